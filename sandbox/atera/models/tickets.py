"""Tickets (list by customer/status, ``/tickets/lastmodified?date=`` in UTC, read by id) and work hours
(``/workhours?startWorkhour=&endWorkhour=`` in the account's timezone, ``includeRates``)."""
from __future__ import annotations

from ..exceptions import NotFound, ValidationFailed
from ..wire import utc_text
from .base import EntityModel, Record, RecordList, parse_local_param, parse_utc_param, public


class Tickets(EntityModel):
    collection = "tickets"
    workhours_collection = "workhours"

    def get(self, ticket_id: int) -> Record:
        record = self.records().get(str(ticket_id))
        if record is None:
            raise NotFound(f"Ticket {ticket_id} was not found.")
        return record

    def list(self, customer_id: str | None = None, status: str | None = None) -> RecordList:
        items = self.ordered()
        if customer_id not in (None, ""):
            try:
                wanted = int(customer_id)
            except ValueError:
                raise ValidationFailed({"customerId": [f"The value '{customer_id}' is not valid."]}) from None
            items = [r for r in items if r["CustomerID"] == wanted]
        if status:
            items = [r for r in items if (r["TicketStatus"] or "").lower() == status.lower()]
        return items

    def modified_since(self, raw: str | None) -> RecordList:
        if not raw:
            raise ValidationFailed({"date": ["The date field is required."]})
        since = utc_text(parse_utc_param("date", raw))
        return self.ordered(("since", since), keep=lambda r: r["_modified"] >= since,
                            sort_key=lambda r: (r["_modified"], r["TicketID"]))

    def insert_seeded(self, record: Record) -> Record:
        record["TicketID"] = self.next_id()
        return self.put(record["TicketID"], record)

    def insert_workhour(self, record: Record) -> Record:
        record["WorkHoursID"] = self.next_id(self.workhours_collection)
        return self.put(record["WorkHoursID"], record, name=self.workhours_collection)

    def workhours(self, start: str | None, end: str | None) -> RecordList:
        zone = self.account.zone
        lo = utc_text(parse_local_param("startWorkhour", start, zone)) if start else None
        hi = utc_text(parse_local_param("endWorkhour", end, zone)) if end else None
        if lo and hi and lo > hi:
            raise ValidationFailed({"startWorkhour": ["startWorkhour must be before endWorkhour."]})

        def keep(record: Record) -> bool:
            moment = record["StartWorkHour"] or ""
            return (lo is None or moment >= lo) and (hi is None or moment <= hi)

        return self.ordered(("window", lo, hi), keep=keep, name=self.workhours_collection)

    @staticmethod
    def render(record: Record) -> Record:
        return public(record)

    @staticmethod
    def render_workhour(record: Record, include_rates: bool) -> Record:
        out = public(record)
        if not include_rates:
            out["RateID"] = None
            out["RateAmount"] = None
        return out
