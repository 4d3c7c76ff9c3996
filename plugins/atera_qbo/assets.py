"""The Airflow Assets the DAGs share, each defined once (imported by the DAG files; light: only ``airflow.sdk``).

- ``CATALOG``: the staged catalogs passed their quality gate (emitted by ``atera_qbo_catalog_sync``; schedules
  ``atera_qbo_matching``).
- ``MAPPING``: the active customer/product mapping changed. Emitted only by a matching run whose commit changed
  it, through the alias ``MAPPING_UPDATES`` (the commit task's outlet): a preview run, or a commit that left the
  mapping as it was, emits nothing.
"""
from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

CATALOG = Asset("atera_qbo://staging/catalog")
MAPPING = Asset("atera_qbo://staging/mapping")
MAPPING_UPDATES = AssetAlias("atera_qbo_mapping_updates")
