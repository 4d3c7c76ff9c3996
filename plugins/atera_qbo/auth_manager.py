"""Per-company permissions in Airflow: ``CompanyAuthManager``, Airflow's simple auth manager plus the companies
file's ``logins``. Configure it with ``[core] auth_manager = atera_qbo.auth_manager.CompanyAuthManager``
(``AIRFLOW__CORE__AUTH_MANAGER``; Airflow puts the plugins folder on ``sys.path``). Users, roles and passwords
stay the simple auth manager's (``[core] simple_auth_manager_users``, its passwords file).

A login that some company lists in ``logins`` is LIMITED to the companies listing it; its role still decides what
it may do there. A login no company lists is unchanged: it sees every company its role allows.

- DAGs: a limited login reaches only its companies' DAGs (``atera_qbo_<family>`` for ``default``,
  ``atera_qbo_<family>__<id>`` for another); every other DAG — another company's, or one that is not the sync's —
  is refused, for every method and access entity (runs, tasks, logs, XComs...). A check about no DAG in
  particular (Airflow's lists: ``/dags``, ``/dags/~/dagRuns``) is the role's; the lists are then filtered to the
  allowed DAGs (``filter_authorized_dag_ids``, which ``get_authorized_dag_ids`` calls), as are the batch checks.
- Connections: another company's own connections (its ``qbo_conn_id``, ``atera_conn_id``, ``staging_conn_id``)
  are refused. A connection the login's companies share with companies it does not see (``quickbooks_default``
  serving several realms, ``atera_default`` feeding two companies, ``atera_qbo_staging`` the base of every
  company's database), or that belongs to no company (``atera_qbo_redis``, notification channels): reading is what
  the role allows, changing (POST/PUT/DELETE) is refused — it would change other companies' sync. Creating a
  connection without naming it is refused too.
- An explicit limit wins over the role: an Admin listed in a company's ``logins`` is limited like anyone.
- The companies file is read (and re-read when it changes) as the DAG files read it; a broken file keeps the last
  list this process read, and with none every DAG and connection check is refused (fail closed) until it is fixed.

With FAB's auth manager instead, give the finance role per-DAG permissions on the company's DAG ids (e.g.
``atera_qbo_invoice_export__uk``): the same limit, kept by hand (docs/companies.md).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

from .companies import Companies, Company, load_companies
from .errors import ConfigError

if TYPE_CHECKING:  # Airflow declares ResourceMethod for type checkers only
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.batch_apis import (
        IsAuthorizedConnectionRequest,
        IsAuthorizedDagRequest,
    )
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        ConnectionDetails,
        DagAccessEntity,
        DagDetails,
    )
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

log = logging.getLogger(__name__)

DAG_PREFIX = "atera_qbo_"  # every DAG family of the sync
BASE_STAGING_CONN = "atera_qbo_staging"  # the deployment's staging connection: every company's database derives from it
READ = "GET"


def company_of_dag(companies: Companies, dag_id: str) -> Company | None:
    """The company whose sync DAG ``dag_id`` is (None: another company's unknown id, or not a sync DAG)."""
    return companies.of_dag(dag_id) if dag_id.startswith(DAG_PREFIX) else None


def dag_allowed(companies: Companies, login: str, dag_id: str | None) -> bool:
    """Whether the company limit lets ``login`` reach ``dag_id`` (the role decides the rest)."""
    if dag_id is None or not companies.limited(login):
        return True
    company = company_of_dag(companies, dag_id)
    return company is not None and login in company.logins


def connection_owners(companies: Companies, conn_id: str) -> list[Company]:
    """The companies whose sync uses connection ``conn_id``."""
    return [c for c in companies if conn_id in (c.qbo_conn_id, c.atera_conn_id, c.staging_conn_id)
            or (conn_id == BASE_STAGING_CONN and not c.staging_conn_id)]


def connection_allowed(companies: Companies, login: str, conn_id: str | None, method: str) -> bool:
    """Whether the company limit lets ``login`` do ``method`` on connection ``conn_id`` (the role decides the rest):
    its companies' own connections fully, shared or deployment-wide ones read-only, others' not at all."""
    if not companies.limited(login):
        return True
    if conn_id is None:
        return method == READ  # a list (filtered per connection) yes; creating one unnamed, no
    owners = connection_owners(companies, conn_id)
    mine = [c for c in owners if login in c.logins]
    if owners and len(mine) == len(owners):
        return True
    if mine or not owners:
        return method == READ
    return False


class CompanyAuthManager(SimpleAuthManager):
    """Airflow's simple auth manager, each login limited to the companies listing it (module docstring)."""

    _last_good: Companies | None = None

    def companies(self) -> Companies | None:
        """The current companies (the last good list when the file is broken; None: never read, refuse)."""
        try:
            companies = load_companies()
        except ConfigError as exc:
            log.error("company permissions: %s; %s", exc, "keeping the last list read" if self._last_good
                      else "refusing every DAG and connection until it is fixed")
            return self._last_good
        type(self)._last_good = companies
        return companies

    def _dag_ok(self, user: SimpleAuthManagerUser, details: DagDetails | None) -> bool:
        companies = self.companies()
        return companies is not None and dag_allowed(companies, user.get_name(), details.id if details else None)

    def _conn_ok(self, user: SimpleAuthManagerUser, details: ConnectionDetails | None, method: str) -> bool:
        companies = self.companies()
        conn_id = details.conn_id if details else None
        return companies is not None and connection_allowed(companies, user.get_name(), conn_id, method)

    def is_authorized_dag(self, *, method: ResourceMethod, user: SimpleAuthManagerUser,
                          access_entity: DagAccessEntity | None = None, details: DagDetails | None = None) -> bool:
        return self._dag_ok(user, details) and super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details)

    def batch_is_authorized_dag(self, requests: Sequence[IsAuthorizedDagRequest], *,
                                user: SimpleAuthManagerUser) -> bool:
        return all(self._dag_ok(user, r.get("details")) for r in requests) \
            and super().batch_is_authorized_dag(requests, user=user)

    def filter_authorized_dag_ids(self, *, dag_ids: set[str], user: SimpleAuthManagerUser,
                                  method: ResourceMethod = "GET", team_name: str | None = None) -> set[str]:
        companies = self.companies()
        if companies is None:
            return set()
        mine = {d for d in dag_ids if dag_allowed(companies, user.get_name(), d)}
        return set(super().filter_authorized_dag_ids(dag_ids=mine, user=user, method=method, team_name=team_name))

    def is_authorized_connection(self, *, method: ResourceMethod, user: SimpleAuthManagerUser,
                                 details: ConnectionDetails | None = None) -> bool:
        return self._conn_ok(user, details, method) and super().is_authorized_connection(
            method=method, user=user, details=details)

    def batch_is_authorized_connection(self, requests: Sequence[IsAuthorizedConnectionRequest], *,
                                       user: SimpleAuthManagerUser) -> bool:
        return all(self._conn_ok(user, r.get("details"), r["method"]) for r in requests) \
            and super().batch_is_authorized_connection(requests, user=user)

    def filter_authorized_connections(self, *, conn_ids: set[str], user: SimpleAuthManagerUser,
                                      method: ResourceMethod = "GET", team_name: str | None = None) -> set[str]:
        companies = self.companies()
        if companies is None:
            return set()
        mine = {c for c in conn_ids if connection_allowed(companies, user.get_name(), c, method)}
        return set(super().filter_authorized_connections(conn_ids=mine, user=user, method=method,
                                                         team_name=team_name))

    def visible_companies(self, user: Any) -> list[Company]:
        """The companies ``user`` may see (for pages that list companies): those listing it, else every one."""
        companies = self.companies()
        return companies.visible_to(str(user.get_name())) if companies is not None else []
