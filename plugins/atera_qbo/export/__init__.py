"""Invoice export: transform (Atera invoice → QBO payload, pre-tax), ledger (exactly-once bookkeeping), load
(/batch of 30 with requestid)."""
