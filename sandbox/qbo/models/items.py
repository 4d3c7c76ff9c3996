"""Items: Service, NonInventory, Inventory and Category (products in categories carry ``ParentRef``/``SubItem``)."""
from __future__ import annotations

from ..exceptions import BusinessValidation, InvalidReference, ObjectNotFound, RequiredParamMissing
from .base import Record, as_bool, as_text, check_date, check_length, money, ref_value
from .entity import EntityModel
from .names import check_name_chars

ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Category")


class ItemModel(EntityModel):
    name = "Item"
    writable = frozenset({"Name", "Type", "Description", "Active", "ParentRef", "SubItem", "UnitPrice", "Taxable",
                          "SalesTaxIncluded", "IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef",
                          "PurchaseDesc", "PurchaseCost", "PurchaseTaxIncluded", "TrackQtyOnHand", "QtyOnHand",
                          "InvStartDate", "Sku", "SalesTaxCodeRef", "PurchaseTaxCodeRef", "ServiceType",
                          "AbatementRate", "ReverseChargeRate", "ItemCategoryType", "ClassRef", "PrefVendorRef"})
    readonly = frozenset({"FullyQualifiedName", "Level"})

    def build(self, body: Record, current: Record | None) -> Record:
        name = self._name(body)
        item_type = self._type(body, current)
        out: Record = {"Name": name, "Type": item_type, "Active": as_bool(body.get("Active"), "Active", True)}
        description = as_text(body.get("Description"), "Description")
        check_length(description, 4000, "Description")
        out["Description"] = description
        sku = as_text(body.get("Sku"), "Sku")
        check_length(sku, 100, "Sku")
        out.update(self._placement(body, current, name, item_type))
        self.backend.items.check_unique(name, "Item", current["Id"] if current else None)
        if item_type == "Category":
            # Categories carry no accounts, prices or tax settings.
            return out
        out["Sku"] = sku
        out.update(self._sales(body, item_type))
        return out

    @staticmethod
    def _name(body: Record) -> str:
        name = as_text(body.get("Name"), "Name")
        if name is None or not name.strip():
            raise RequiredParamMissing("Required parameter Name is missing in the request", "Name")
        check_length(name, 100, "Name")
        check_name_chars(name, "Name")
        return name

    @staticmethod
    def _type(body: Record, current: Record | None) -> str:
        item_type = as_text(body.get("Type"), "Type")
        if item_type is None:
            # Required since minorversion 4, and every minorversion below 75 is ignored now.
            raise RequiredParamMissing("Required parameter Type is missing in the request", "Type")
        if item_type == "Group":
            raise BusinessValidation("Group items cannot be created or changed through the API", "Type")
        if item_type not in ITEM_TYPES:
            raise BusinessValidation(f"Invalid item type {item_type!r}; expected one of {', '.join(ITEM_TYPES)}",
                                     "Type", message="Invalid Enumeration")
        if current is not None and current.get("Type") != item_type and (
                "Category" in (current.get("Type"), item_type) or item_type == "Inventory"):
            raise BusinessValidation(f"You can't change the type of this item from {current.get('Type')} "
                                     f"to {item_type}", "Type")
        return item_type

    def _placement(self, body: Record, current: Record | None, name: str, item_type: str) -> Record:
        """Where the item sits: under a category (``ParentRef``, ``SubItem``, ``Level``) or at the top."""
        parent_id = ref_value(body.get("ParentRef"), "ParentRef")
        if parent_id is None:
            return {"SubItem": False, "FullyQualifiedName": name}
        parent = self.backend.lookup("Item", parent_id)
        if parent is None:
            raise InvalidReference(f"Invalid Reference Id : Item {parent_id} does not exist", "ParentRef")
        if not parent.get("Active", True):
            raise ObjectNotFound(element="ParentRef")
        if item_type == "Category" and parent.get("Type") != "Category":
            raise BusinessValidation("A category can only be placed under another category", "ParentRef")
        if current is not None and parent_id == current["Id"]:
            raise BusinessValidation("An item cannot be its own parent", "ParentRef")
        return {"ParentRef": {"value": parent_id, "name": parent["Name"]}, "SubItem": True,
                "Level": int(parent.get("Level", 0)) + 1,
                "FullyQualifiedName": f"{parent.get('FullyQualifiedName', parent['Name'])}:{name}"}

    def _sales(self, body: Record, item_type: str) -> Record:
        """Price, accounts, quantity on hand and tax code: what a sellable (non-category) item carries."""
        out: Record = {
            "UnitPrice": money(body.get("UnitPrice"), "UnitPrice") or 0,
            "Taxable": as_bool(body.get("Taxable"), "Taxable", False),
            "SalesTaxIncluded": as_bool(body.get("SalesTaxIncluded"), "SalesTaxIncluded"),
            "PurchaseDesc": as_text(body.get("PurchaseDesc"), "PurchaseDesc"),
            "PurchaseCost": money(body.get("PurchaseCost"), "PurchaseCost"),
            "IncomeAccountRef": self._account(body, "IncomeAccountRef", required=True, kinds=("Income",)),
            "ExpenseAccountRef": self._account(body, "ExpenseAccountRef", required=item_type == "Inventory",
                                               kinds=("Cost of Goods Sold", "Expense", "Other Expense")),
            "TrackQtyOnHand": as_bool(body.get("TrackQtyOnHand"), "TrackQtyOnHand", False),
        }
        if item_type == "Inventory":
            out["AssetAccountRef"] = self._account(body, "AssetAccountRef", required=True,
                                                   kinds=("Other Current Asset",))
            if not out["TrackQtyOnHand"]:
                raise BusinessValidation("Inventory items must track quantity on hand (TrackQtyOnHand=true)",
                                         "TrackQtyOnHand")
            qty = money(body.get("QtyOnHand"), "QtyOnHand", required=True)
            start = as_text(body.get("InvStartDate"), "InvStartDate")
            if start is None:
                raise RequiredParamMissing("Required parameter InvStartDate is missing in the request",
                                           "InvStartDate")
            check_date(start, "InvStartDate")
            out["QtyOnHand"], out["InvStartDate"] = qty, start
        elif out["TrackQtyOnHand"]:
            raise BusinessValidation("Only inventory items can track quantity on hand", "TrackQtyOnHand")
        tax_code = ref_value(body.get("SalesTaxCodeRef"), "SalesTaxCodeRef")
        if tax_code is not None:
            self.backend.check_tax_code(tax_code, "SalesTaxCodeRef")
            out["SalesTaxCodeRef"] = {"value": tax_code}
        return out

    def _account(self, body: Record, key: str, *, required: bool, kinds: tuple[str, ...]) -> Record | None:
        account_id = ref_value(body.get(key), key)
        if account_id is None:
            if required:
                raise RequiredParamMissing(f"Required parameter {key} is missing in the request", key)
            return None
        account = self.backend.lookup("Account", account_id)
        if account is None:
            raise InvalidReference(f"Invalid Reference Id : Account {account_id} does not exist", key)
        if not account.get("Active", True):
            raise ObjectNotFound(element=key)
        if account.get("AccountType") not in kinds:
            raise BusinessValidation(
                f"Invalid account type: {key} must be an account of type {' or '.join(kinds)}; account "
                f"{account_id} is {account.get('AccountType')}", key, message="Invalid Account Type")
        return {"value": account_id, "name": account["Name"]}

    def after_store(self, record: Record, previous: Record | None) -> None:
        self.backend.items.update("Item", record, previous)
        self.cascade_names(record, previous, "Name")
