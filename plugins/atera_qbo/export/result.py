"""What one export run did: ``ExportResult``, filled as the run goes (``load.export_invoices``), closed into its
``export_batches`` row (``ledger.Ledger.close``) and written as the run's report (``report.write_report``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExportResult:
    batch_id: str
    selected: int = 0
    already_exported: int = 0
    recovered: int = 0
    exported: dict[str, str] = field(default_factory=dict)  # Atera number → QBO id
    blocked: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    recovered_ids: dict[str, str] = field(default_factory=dict)  # Atera number → QBO id found by DocNumber
    pending: dict[str, str] = field(default_factory=dict)  # sent, no usable answer (retriable): the retry replays
    not_sent: dict[str, str] = field(default_factory=dict)  # to send, but the run stopped first
    planned: list[str] = field(default_factory=list)  # what this run meant to send (after skips and blocks)
    # a dry run only: what the export would do with each selected invoice it did not block
    would_send: dict[str, str] = field(default_factory=dict)  # Atera number → "would be sent as a QBO Invoice"
    exported_before: dict[str, str] = field(default_factory=dict)  # Atera number → "exported before as ..."
    error: str | None = None  # why the run stopped early (its batch is closed ``failed``)
    note: str = ""  # what the selection found when that is worth saying (nothing dated in the window, ...)

    @property
    def problems(self) -> dict[str, str]:
        """Atera number → why it was not exported, for the invoices blocked or failed."""
        return {**self.blocked, **self.failed}

    def as_dict(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "selected": self.selected, "already_exported": self.already_exported,
                "recovered": self.recovered, "exported": len(self.exported), "blocked": len(self.blocked),
                "failed": len(self.failed), "pending": len(self.pending), "not_sent": len(self.not_sent),
                "dry_run": self.dry_run, "error": self.error, "note": self.note,
                "exported_ids": dict(list(self.exported.items())[:500]),
                "problems": {**dict(list(self.blocked.items())[:50]), **dict(list(self.failed.items())[:50])}}
