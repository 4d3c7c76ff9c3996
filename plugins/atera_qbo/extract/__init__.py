"""Extract: API → staging, one module per vendor.

- ``atera.py``: customers and contacts (incremental), products, expenses, contracts and their rates (full), invoices
  of a date window;
- ``qbo.py``: the QBO lists (customers, items, accounts, tax codes and rates, terms, vendor/employee names,
  preferences), incremental with deletions from CDC;
- ``load.py``: the shared load primitive (rows built leniently, upserted in one transaction, rows a full pull no
  longer returns flagged ``deleted_at``), so a rerun gives the same staging state;
- ``watermarks.py``: where an incremental pull resumes, advanced only in the transaction that stored the rows.

Records are staged as the API returned them (``raw_json``); typed columns are derived leniently: a value that
does not fit (a float amount, a name over QBO's limit) is kept and listed in ``quality_flags``.
"""
from __future__ import annotations

from .atera import extract_atera_catalog, extract_atera_invoices
from .load import LoadResult
from .qbo import extract_qbo_catalog

__all__ = ["LoadResult", "extract_atera_catalog", "extract_atera_invoices", "extract_qbo_catalog"]
