"""Reconciliation: what drifted between Atera, QBO, the mappings and the export ledger since the wizard.

``refresh`` brings staging up to date incrementally (QBO CDC / ``Metadata.LastUpdatedTime``, Atera's modified
filters), ``checks`` and ``transactions`` turn staging into ``Finding`` rows, ``store`` keeps them across runs
(first seen, resolved), ``report`` writes one CSV per finding type and a self-contained HTML report, and ``run``
ties the steps together for the DAG.
"""
from .findings import COLUMNS, FINDING_TYPES, SEVERITIES, Finding

__all__ = ["COLUMNS", "FINDING_TYPES", "SEVERITIES", "Finding"]
