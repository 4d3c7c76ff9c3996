"""Company setup (CompanyInfo, Preferences, Accounts, TaxCodes, TaxRates, Terms) and the tax engine.

Setup depends on the country (``--country US|GB|CA``) and survives ``/_sandbox/reset``.

Tax:
- US: lines take the pseudo codes ``TAX``/``NON`` only (a line without one counts as ``TAX``, as since April 2018).
  With automated sales tax on (the default), ``TxnTaxDetail.TotalTax`` is a stand-in for Intuit's AST: the
  taxable amount times a fixed rate for the ship-to state, rounded half-up. As QBO's AST, the ship-to address
  decides, never the billing address: the transaction's ``ShipAddr.CountrySubDivisionCode`` (on create it defaults
  to the customer's ``ShipAddr``), else the customer's ``ShipAddr``, else (nothing to ship to) the company's address
  (``CompanyInfo.CompanyAddr``; the US company is in CA).
- GB/CA: every sales line needs ``TaxCodeRef`` to an existing, active TaxCode; tax is computed per code.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, TypedDict

from ..exceptions import BusinessValidation, InvalidReference, ObjectNotFound
from ..times import stamp
from .base import Realm, Record, cents, new_meta

SETUP_TIME = "2026-01-05T09:00:00-08:00"  # deterministic: the company was set up before any seed data

HOME_CURRENCY = {"US": "USD", "GB": "GBP", "CA": "CAD"}
CURRENCY_NAMES = {"USD": "United States Dollar", "GBP": "British Pound Sterling", "CAD": "Canadian Dollar",
                  "EUR": "Euro", "AUD": "Australian Dollar"}
# Fixed rates (home currency per unit) for foreign-currency transactions without an ExchangeRate.
EXCHANGE_RATES = {("USD", "CAD"): Decimal("0.73"), ("USD", "GBP"): Decimal("1.27"), ("USD", "EUR"): Decimal("1.08"),
                  ("GBP", "USD"): Decimal("0.79"), ("GBP", "EUR"): Decimal("0.85"), ("GBP", "CAD"): Decimal("0.58"),
                  ("CAD", "USD"): Decimal("1.37"), ("CAD", "GBP"): Decimal("1.74"), ("CAD", "EUR"): Decimal("1.48")}

# The AST stand-in: combined rate per US state (percent).
US_STATE_RATES = {"WA": "10.1", "OR": "0", "CO": "8.81", "TX": "8.25", "IL": "10.25", "MA": "6.25", "GA": "8.9",
                  "AZ": "8.6", "NC": "7.25", "OH": "7.5", "TN": "9.75", "CA": "7.75", "FL": "7.5", "WI": "5.5",
                  "NY": "8.875"}

# Id, Name, AccountType, AccountSubType, Classification
ACCOUNTS = [
    ("1", "Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("2", "Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("3", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("5", "Checking", "Bank", "Checking", "Asset"),
    ("6", "Inventory Asset", "Other Current Asset", "Inventory", "Asset"),
    ("7", "Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    ("8", "{tax_liability}", "Other Current Liability", "GlobalTaxPayable", "Liability"),
    ("9", "Discounts given", "Income", "DiscountsRefundsGiven", "Revenue"),
    ("10", "Uncategorized Income", "Income", "OtherPrimaryIncome", "Revenue"),
    ("11", "Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "Expense"),
    ("12", "Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ("13", "Legacy Income (closed)", "Income", "OtherPrimaryIncome", "Revenue"),  # inactive
]
TAX_LIABILITY = {"US": "Sales Tax Payable", "GB": "VAT Control", "CA": "GST/HST Payable"}
INCOME_ACCOUNT_SERVICES = "1"
INCOME_ACCOUNT_PRODUCTS = "2"

TERMS = [("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30), ("4", "Net 60", 60)]

# Non-US tax codes: Id, Name, Description, sales rate ids; and the rates: Id, Name, RateValue.
GB_RATES = [("1", "20.0% S", "20"), ("2", "5.0% R", "5"), ("3", "0.0% Z", "0"), ("4", "Exempt", "0"),
            ("5", "20.0% ECG", "20")]
GB_CODES = [("2", "20.0% S", "Standard", ["1"]), ("3", "5.0% R", "Reduced", ["2"]),
            ("4", "0.0% Z", "Zero-rated", ["3"]), ("5", "Exempt", "Exempt", ["4"]),
            ("6", "No VAT", "No VAT", []), ("7", "20.0% ECG", "EC Goods Standard (retired)", ["5"])]
CA_RATES = [("1", "HST ON", "13"), ("2", "GST", "5"), ("3", "Zero-rated", "0"), ("4", "Exempt", "0"),
            ("5", "PST BC", "7")]
CA_CODES = [("2", "HST ON", "Harmonized sales tax - Ontario", ["1"]), ("3", "GST", "Goods and services tax", ["2"]),
            ("4", "Zero-rated", "Zero-rated", ["3"]), ("5", "Exempt", "Exempt", ["4"]),
            ("6", "Out of Scope", "Out of scope of tax", []), ("7", "GST/PST BC", "GST and PST - British Columbia",
                                                                  ["2", "5"])]
INACTIVE_CODE = "7"  # a retired code: referencing it fails with 610

# Messages of the non-US "every line needs a tax code" rule (6000).
UK_MISSING_TAX = "Make sure all your transactions have a VAT rate before you save."
CA_MISSING_TAX = ("One or more transaction lines do not have a tax code. Please enter a tax code for each line "
                  "and save again.")  # text from quickbooks-ruby#322, partly reconstructed


class CompanySettings(TypedDict):
    """What ``GET|PUT /_sandbox/company`` shows and sets (stored as ``_company/settings``)."""

    country: str  # US | GB | CA: the tax rules
    home_currency: str  # follows the country
    multicurrency: bool  # QBO turns it on, never off
    custom_txn_numbers: bool  # DocNumbers come from the client (else QBO numbers the documents)
    automated_sales_tax: bool  # US only: the AST stand-in computes TxnTaxDetail
    company_name: str


def default_settings(country: str) -> CompanySettings:
    if country not in HOME_CURRENCY:
        raise ValueError(f"unknown country {country!r}; choose US, GB or CA")
    return {"country": country, "home_currency": HOME_CURRENCY[country], "multicurrency": False,
            "custom_txn_numbers": True, "automated_sales_tax": country == "US",
            "company_name": {"US": "Twin MSP Demo Co", "GB": "Twin MSP Demo Ltd", "CA": "Twin MSP Demo Inc"}[country]}


def _record(object_id: str, **fields: Any) -> Record:
    record: Record = {"Id": object_id, "SyncToken": "0", "domain": "QBO", "sparse": False}
    record.update({k: v for k, v in fields.items() if v is not None})
    record["MetaData"] = new_meta(SETUP_TIME)
    return record


def setup_records(settings: CompanySettings) -> dict[str, list[Record]]:
    """Every setup record for a company with these settings, by entity."""
    country = settings["country"]
    home = settings["home_currency"]
    out: dict[str, list[Record]] = {"Account": [], "Term": [], "TaxCode": [], "TaxRate": []}
    for object_id, name, kind, sub, classification in ACCOUNTS:
        name = name.format(tax_liability=TAX_LIABILITY[country])
        out["Account"].append(_record(object_id, Name=name, FullyQualifiedName=name, SubAccount=False,
                                      AccountType=kind, AccountSubType=sub, Classification=classification,
                                      Active=object_id != "13", CurrentBalance=0, CurrentBalanceWithSubAccounts=0,
                                      CurrencyRef={"value": home, "name": CURRENCY_NAMES[home]}))
    for object_id, name, days in TERMS:
        out["Term"].append(_record(object_id, Name=name, Active=True, Type="STANDARD", DueDays=days))
    if country == "US":
        # Pseudo codes; Intuit answers them to a TaxCode query too.
        out["TaxCode"].append(_record("TAX", Name="TAX", Description="TAX", Taxable=True, TaxGroup=False,
                                      Active=True))
        out["TaxCode"].append(_record("NON", Name="NON", Description="NON", Taxable=False, TaxGroup=False,
                                      Active=True))
        for number, (state, rate) in enumerate(sorted(US_STATE_RATES.items()), start=1):
            out["TaxRate"].append(_record(str(number), Name=f"{state} State (AST)", RateValue=Decimal(rate),
                                          Active=True, SpecialTaxType="NONE", DisplayType="ReadOnly",
                                          AgencyRef={"value": "1"}, Description=f"Sales tax {state}"))
    else:
        rates, codes = (GB_RATES, GB_CODES) if country == "GB" else (CA_RATES, CA_CODES)
        rate_names = {}
        for object_id, name, value in rates:
            rate_names[object_id] = name
            out["TaxRate"].append(_record(object_id, Name=name, RateValue=Decimal(value), Active=True,
                                          SpecialTaxType="NONE" if value != "0" else "ZERO_RATE",
                                          DisplayType="ReadOnly", AgencyRef={"value": "1"}))
        for object_id, name, description, rate_ids in codes:
            details = [{"TaxRateRef": {"value": r, "name": rate_names[r]}, "TaxTypeApplicable": "TaxOnAmount",
                        "TaxOrder": 0} for r in rate_ids]
            out["TaxCode"].append(_record(
                object_id, Name=name, Description=description, Active=object_id != INACTIVE_CODE,
                Taxable=bool(rate_ids), TaxGroup=True, Hidden=False,
                SalesTaxRateList={"TaxRateDetail": details} if details else {"TaxRateDetail": []},
                PurchaseTaxRateList={"TaxRateDetail": []}))
    return out


def company_info(settings: CompanySettings) -> Record:
    country = settings["country"]
    addr = {"US": {"Line1": "2700 Coast Ave", "City": "Mountain View", "CountrySubDivisionCode": "CA",
                   "PostalCode": "94043", "Country": "US"},
            "GB": {"Line1": "1 Poultry", "City": "London", "PostalCode": "EC2R 8EJ", "Country": "GB"},
            "CA": {"Line1": "100 King St W", "City": "Toronto", "CountrySubDivisionCode": "ON",
                   "PostalCode": "M5X 1A9", "Country": "CA"}}[country]
    return _record("1", CompanyName=settings["company_name"], LegalName=settings["company_name"],
                   CompanyAddr=addr, LegalAddr=addr, CustomerCommunicationAddr=addr, Country=country,
                   FiscalYearStartMonth="January", SupportedLanguages="en", CompanyStartDate="2026-01-05",
                   Email={"Address": "books@twin-msp.example.com"}, PrimaryPhone={"FreeFormNumber": "(555) 010-0100"},
                   NameValue=[{"Name": "NeoEnabled", "Value": "true"},
                              {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}])


def preferences(settings: CompanySettings, sync_token: str = "0") -> Record:
    country = settings["country"]
    prefs = _record(
        "1",
        SalesFormsPrefs={"CustomTxnNumbers": settings["custom_txn_numbers"], "AllowDeposit": True,
                         "AllowDiscount": True, "AllowShipping": False, "DefaultTerms": {"value": "3"},
                         "ETransactionEnabledStatus": "NotApplicable", "IPNSupportEnabled": False},
        CurrencyPrefs={"MultiCurrencyEnabled": settings["multicurrency"],
                       "HomeCurrency": {"value": settings["home_currency"]}},
        TaxPrefs={"UsingSalesTax": True, "PartnerTaxEnabled": bool(settings["automated_sales_tax"])}
        if country == "US" else {"UsingSalesTax": True, "TaxGroupCodeRef": {"value": "2"}},
        AccountingInfoPrefs={"FirstMonthOfFiscalYear": "January", "UseAccountNumbers": False,
                             "TaxYearMonth": "January", "BookCloseDate": None},
        ProductAndServicesPrefs={"ForSales": True, "ForPurchase": True, "QuantityWithPriceAndRate": True,
                                 "QuantityOnHand": True},
    )
    prefs["SyncToken"] = sync_token
    prefs["MetaData"]["LastUpdatedTime"] = stamp() if sync_token != "0" else SETUP_TIME
    return prefs


class Taxes:
    """Which code a sales line gets, and what tax a transaction carries."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm

    def line_code(self, company: CompanySettings, code: str | None) -> str:
        element = "Line.SalesItemLineDetail.TaxCodeRef"
        if company["country"] == "US":
            if code is None:
                return "TAX"
            if code not in ("TAX", "NON"):
                raise InvalidReference(f"Invalid Reference Id : US companies take the tax codes TAX or NON on "
                                       f"sales lines, not {code!r}", element)
            return code
        if code is None:
            raise BusinessValidation(UK_MISSING_TAX if company["country"] == "GB" else CA_MISSING_TAX, element)
        record = self.realm.get("TaxCode", code)
        if record is None:
            raise InvalidReference(f"Invalid Reference Id : TaxCode {code} does not exist", element)
        if not record.get("Active", True):
            raise ObjectNotFound(element=element)
        return code

    def ship_to_state(self, ship_to: Record | None, customer: Record) -> str:
        """Where US automated sales tax is sourced: the transaction's ship-to state, else the customer's shipping
        address, else the company's address (the billing address never decides)."""
        company_addr = (self.realm.get("CompanyInfo", "1") or {}).get("CompanyAddr")
        # Strict choice (undocumented): an address without a state does not decide; the next one in line does.
        for address in (ship_to, customer.get("ShipAddr"), company_addr):
            state = (address or {}).get("CountrySubDivisionCode") if isinstance(address, dict) else None
            if state:
                return str(state).strip().upper()
        return ""

    def compute(self, company: CompanySettings, customer: Record, taxable_by_code: dict[str, Decimal],
                calculation: str | None, ship_to: Record | None = None) -> tuple[Record, Decimal]:
        """``(TxnTaxDetail, total tax)``; ``ship_to`` is the transaction's ``ShipAddr`` (US: where tax is sourced)."""
        if company["country"] == "US":
            if not company["automated_sales_tax"] or not customer.get("Taxable", True):
                return {"TotalTax": Decimal("0.00")}, Decimal(0)
            taxable = taxable_by_code.get("TAX", Decimal(0))
            state = self.ship_to_state(ship_to, customer)
            rate = Decimal(US_STATE_RATES.get(state, "0"))
            tax = cents(taxable * rate / 100)
            if not taxable:
                return {"TotalTax": Decimal("0.00")}, Decimal(0)
            rate_id = str(sorted(US_STATE_RATES).index(state) + 1) if state in US_STATE_RATES else None
            line = {"Amount": tax, "DetailType": "TaxLineDetail",
                    "TaxLineDetail": {"TaxRateRef": {"value": rate_id} if rate_id else None, "PercentBased": True,
                                      "TaxPercent": rate, "NetAmountTaxable": cents(taxable)}}
            return {"TotalTax": tax, "TaxLine": [line]}, tax
        inclusive = calculation == "TaxInclusive"
        if calculation == "NotApplicable":
            return {"TotalTax": Decimal("0.00")}, Decimal(0)
        total = Decimal(0)
        tax_lines = []
        rates = self.realm.all("TaxRate")
        for code_id, amount in taxable_by_code.items():
            code = self.realm.get("TaxCode", code_id) or {}
            for detail in (code.get("SalesTaxRateList") or {}).get("TaxRateDetail", []):
                rate_id = detail["TaxRateRef"]["value"]
                rate = Decimal(rates.get(rate_id, {}).get("RateValue", 0))
                net = amount / (1 + rate / 100) if inclusive else amount
                tax = cents(net * rate / 100)
                total += tax
                tax_lines.append({"Amount": tax, "DetailType": "TaxLineDetail",
                                  "TaxLineDetail": {"TaxRateRef": {"value": rate_id}, "PercentBased": True,
                                                    "TaxPercent": rate, "NetAmountTaxable": cents(net)}})
        detail = {"TotalTax": cents(total)}
        if tax_lines:
            detail["TaxLine"] = tax_lines
        return detail, cents(total)
