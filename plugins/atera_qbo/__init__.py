"""Atera ↔ QuickBooks Online sync: the domain package behind the DAGs.

Everything here is testable without Airflow; only ``hooks.py`` and ``tasks.py`` import it (lazily).
"""
