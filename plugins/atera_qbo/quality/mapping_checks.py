"""What the gate on the proposed mapping checks (``mapping_gate``): its table name and its checks, each a computed
column of that name expected to be True. Plain data, so the suite builders (``suites``) can name them without
importing the gate (which imports pandas and the runner)."""
from __future__ import annotations

TABLE = "proposed_mapping"
RECENT_DAYS = 90
CHECKS = {
    "qbo_target_ok": "a match points at a staged, active QBO record",
    "one_atera_per_qbo_customer": "each QBO customer is taken by at most one Atera customer",
    "planned_name_ok": "a planned create has a name QBO accepts and nobody in QBO holds",
    "recent_product_decided": f"every product invoiced in the last {RECENT_DAYS} days is mapped or planned",
}
