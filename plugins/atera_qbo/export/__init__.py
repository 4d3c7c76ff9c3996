"""Invoice export: ``transform.py`` (Atera invoice → QBO payload, pre-tax), ``load.py`` (the ledger's exactly-once
bookkeeping and the /batch of 30 with requestid), ``customers.py`` (the ``create_missing_customers`` option)."""
