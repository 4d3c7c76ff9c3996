"""The finding: one thing finance should look at, with both sides' records, a QBO link and what to do."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

SEVERITIES = ("critical", "warning", "info")
COLUMNS = ["type", "severity", "atera_id", "atera_name", "qbo_id", "qbo_name", "detail", "qbo_link", "first_seen",
           "action"]

# type → (title in the report, what it means)
FINDING_TYPES: dict[str, tuple[str, str]] = {
    "mapping_target_deleted": ("Mapped QBO record deleted or merged",
                               "The QBO customer/item a mapping points at no longer exists (deleted, or merged "
                               "into another record)."),
    "mapping_target_inactive": ("Mapped QBO record inactive",
                                "The QBO customer/item a mapping points at was made inactive."),
    "mapping_source_gone": ("Mapped Atera record gone", "The Atera record of a mapping no longer exists."),
    "name_changed": ("Name changed since the mapping", "A mapped record was renamed on one side."),
    "price_drift": ("Price drift", "An Atera product/rate/expense and its QBO item have different prices."),
    "unmapped": ("Not mapped", "A record on one side has no mapping (with the matching DAG's suggestion)."),
    "txn_voided": ("Exported document voided in QBO", "An invoice/credit memo the export created was voided."),
    "txn_deleted": ("Exported document deleted in QBO", "An invoice/credit memo the export created was deleted."),
    "txn_changed": ("Exported document changed in QBO",
                    "An exported invoice/credit memo was edited in QBO (total, customer, lines or number)."),
    "payment_status": ("Payments", "Exported invoices paid, partly paid or overdue; credit memos applied."),
    "not_exported": ("Never exported", "Atera invoices of the window that were never exported."),
    "ledger_stuck": ("Blocked or failed for days", "Export ledger rows blocked/failed for longer than allowed."),
    "unrouted_customer": ("Atera customer of no company",
                          "An Atera customer of an account several companies share that no company's route places "
                          "(or that two do): its invoices are never exported."),
}


class Records(TypedDict, total=False):
    """The records a finding is about, as ``Finding`` fields (``Finding(type, severity, **records, ...)``)."""
    entity: str
    atera_id: str
    atera_name: str
    qbo_id: str
    qbo_name: str


@dataclass
class Finding:
    type: str
    severity: str
    entity: str  # customer | item | invoice | creditmemo
    atera_id: str = ""
    atera_name: str = ""
    qbo_id: str = ""
    qbo_name: str = ""
    detail: str = ""
    qbo_link: str = ""
    action: str = ""
    subkey: str = ""  # tells apart findings of one type on the same records (e.g. payment state)
    first_seen: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in FINDING_TYPES:
            raise ValueError(f"unknown finding type {self.type!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @property
    def key(self) -> str:
        """Identity across runs: the same problem on the same records. The detail (amounts, dates) may change."""
        return "|".join((self.type, self.entity, self.atera_id, self.qbo_id, self.subkey))

    def row(self) -> list[str]:
        return [str(getattr(self, c) or "") for c in COLUMNS]


_LINK_PAGES = {"customer": "customerdetail?nameId={id}", "item": "items?itemId={id}",
               "invoice": "invoice?txnId={id}", "creditmemo": "creditmemo?txnId={id}"}


def qbo_link(entity: str, qbo_id: str | None) -> str:
    """The page of a QBO record in QBO's web app, as a path ('/app/invoice?txnId=42'; '' when there is no record to
    link to); the run puts the connection's app host (production or sandbox) in front."""
    page = _LINK_PAGES.get(entity)
    return "/app/" + page.format(id=qbo_id) if page and qbo_id else ""


def with_host(findings: list[Finding], app_url: str) -> None:
    for f in findings:
        if f.qbo_link.startswith("/"):
            f.qbo_link = app_url.rstrip("/") + f.qbo_link
