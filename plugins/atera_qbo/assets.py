"""The Airflow Assets the DAGs share, each defined once (imported by the DAG files; light: only ``airflow.sdk``).

- ``CATALOG``: the staged catalogs passed their quality gate (emitted by ``atera_qbo_catalog_sync``; schedules
  ``atera_qbo_matching``).
- ``MAPPING``: the active customer/product mapping changed. Emitted only by a matching run whose commit changed
  it, through the alias ``MAPPING_UPDATES`` (the commit task's outlet): a preview run, or a commit that left the
  mapping as it was, emits nothing.

Each company has its own three (``company_assets``), so one company's catalog sync schedules only that company's
matching: ``atera_qbo://staging/uk/catalog`` for company ``uk``. The adopted company ``default`` keeps the names
above (its Asset history carries over).
"""
from __future__ import annotations

from typing import NamedTuple

from airflow.sdk import Asset, AssetAlias

CATALOG = Asset("atera_qbo://staging/catalog")
MAPPING = Asset("atera_qbo://staging/mapping")
MAPPING_UPDATES = AssetAlias("atera_qbo_mapping_updates")


class CompanyAssets(NamedTuple):
    catalog: Asset
    mapping: Asset
    mapping_updates: AssetAlias


def company_assets(company_id: str | None) -> CompanyAssets:
    """The Assets of one company's DAG chain; ``None`` is the adopted ``default`` company (the names above)."""
    if company_id is None:
        return CompanyAssets(CATALOG, MAPPING, MAPPING_UPDATES)
    return CompanyAssets(Asset(f"atera_qbo://staging/{company_id}/catalog"),
                         Asset(f"atera_qbo://staging/{company_id}/mapping"),
                         AssetAlias(f"atera_qbo_mapping_updates__{company_id}"))
