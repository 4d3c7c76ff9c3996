"""Currency codes the gates accept: ISO 4217 alphabetic codes of circulating currencies, plus the codes withdrawn
since 2000 that an old QuickBooks company (or an Atera account set up long ago) may still carry.

Left out on purpose: precious metals (XAU, XAG, XPT, XPD), bond-market units (XBA..XBD), SDR (XDR), the fund and
settlement codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW, XSU, XUA) and the testing / no-currency codes
(XTS, XXX): none of them is a currency an invoice or a customer is kept in.
"""
from __future__ import annotations

CIRCULATING = frozenset([
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
])

WITHDRAWN_SINCE_2000 = frozenset([
    "AZM", "BYR", "CSD", "CUC", "CYP", "EEK", "GHC", "HRK", "LTL", "LVL", "MRO", "MTL", "MZM", "ROL", "SDD", "SIT",
    "SKK", "SLL", "STD", "TMM", "TRL", "VEF", "ZMK", "ZWD", "ZWL",
])

CURRENCY_CODES: frozenset[str] = CIRCULATING | WITHDRAWN_SINCE_2000
