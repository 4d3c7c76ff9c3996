"""Airflow hooks: build the sync's clients from Connections. Credentials come only from the Connection and are
never logged. Swapping production for the twins is a change of connection host, never a code flag.

Each hook is a context manager owning what it builds: the staging engine (the process's one engine for the
connection's URL, ``staging.db.engine_for``) and one API client (one HTTP session, one rate budget, for QBO one
token store), closed when the ``with`` block ends::

    with QuickBooksHook() as qbo:
        qbo.get_conn().query_all("Item")
"""
from __future__ import annotations

import logging
import os
from functools import cached_property
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import redis
import sqlalchemy as sa
from airflow.configuration import conf
from airflow.sdk import BaseHook
from cryptography.fernet import Fernet, MultiFernet

from .atera.client import AteraClient
from .companies import Company, company_staging_url, load_companies
from .config import AteraSettings, QboSettings, conn_info
from .errors import ConfigError
from .http import RetryPolicy
from .qbo.auth import TokenEndpoint, TokenStore
from .qbo.client import QboClient, QboLimits
from .qbo.connection import NOT_CONNECTED, current_realm, require_connected
from .staging.db import engine_for
from .staging.identity import claim_database

log = logging.getLogger(__name__)


def fernet() -> MultiFernet | None:
    """Airflow's Fernet (tokens at rest) when a key is configured, else None."""
    key = os.environ.get("AIRFLOW__CORE__FERNET_KEY") or conf.get("core", "fernet_key", fallback="") or ""
    keys = [k.strip() for k in key.split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None


def redis_client() -> redis.Redis | None:
    """A client of the Redis of connection ``atera_qbo_redis`` (conn type redis: host, port, schema = db number,
    password), which holds the rate budgets every worker shares; None when the connection is not defined (then
    each API client keeps its own budget — right for one worker, too generous for many). The caller owns it."""
    info = conn_info("atera_qbo_redis", required=False)
    if info is None:
        return None
    return redis.Redis(host=info.host or "127.0.0.1", port=info.port or 6379, db=int(info.schema or 0),
                       password=info.password or None, socket_timeout=10, socket_connect_timeout=5)


class _Closeable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closeable)


class _OwnsClient(Generic[C]):
    """A hook builds its API client on the first ``get_conn`` and hands out that same client until ``close`` (or
    the end of its ``with`` block)."""

    def build_client(self) -> C:
        raise NotImplementedError

    @cached_property
    def client(self) -> C:
        return self.build_client()

    def get_conn(self) -> C:
        return self.client

    def close(self) -> None:
        """Close the cached client's session; the next ``get_conn`` builds a new one."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class StagingHook(BaseHook):
    conn_name_attr = "staging_conn_id"
    default_conn_name = "atera_qbo_staging"
    conn_type = "sqlite"
    hook_name = "Atera-QBO staging"

    def __init__(self, *, staging_conn_id: str = default_conn_name, company: Company | None = None) -> None:
        super().__init__()
        self.staging_conn_id = staging_conn_id
        self.company = company or load_companies().get(None)

    @cached_property
    def url(self) -> str:
        """The company's database: its own ``staging_conn_id``, else derived from ``atera_qbo_staging``."""
        return company_staging_url(self.company, self.staging_conn_id)

    @property
    def engine(self) -> sa.Engine:
        """The process's engine for the company's database, migrated to the current schema once, and checked to
        hold this company's rows (``staging.identity``)."""
        engine = engine_for(self.url)
        claim_database(engine, self.company.id)
        return engine

    def get_conn(self) -> sa.Engine:
        return self.engine

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Nothing to close: the engine is the process's, disposed when it exits."""


class AteraHook(_OwnsClient[AteraClient], BaseHook):
    conn_name_attr = "atera_conn_id"
    default_conn_name = "atera_default"
    conn_type = "http"
    hook_name = "Atera"

    def __init__(self, *, atera_conn_id: str | None = None, company: Company | None = None) -> None:
        super().__init__()
        self.atera_conn_id = atera_conn_id or (company.atera_conn_id if company else self.default_conn_name)

    @cached_property
    def settings(self) -> AteraSettings:
        return AteraSettings.from_conn(conn_info(self.atera_conn_id), self.atera_conn_id)

    def build_client(self) -> AteraClient:
        s = self.settings
        return AteraClient(s.base_url, s.api_key, rate_per_minute=s.rate_per_minute, redis_client=redis_client(),
                           auth=s.auth)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn().get("/account", entity="Atera account")
            return True, "Atera answered"
        except Exception as exc:  # noqa: BLE001 - Airflow's "Test connection" shows any failure as text
            return False, str(exc)


class QuickBooksHook(_OwnsClient[QboClient], BaseHook):
    conn_name_attr = "qbo_conn_id"
    default_conn_name = "quickbooks_default"
    conn_type = "http"
    hook_name = "QuickBooks Online"

    def __init__(self, *, qbo_conn_id: str | None = None, staging: StagingHook | None = None,
                 company: Company | None = None) -> None:
        super().__init__()
        self.staging = staging or StagingHook(company=company)
        self.company = self.staging.company
        self.qbo_conn_id = qbo_conn_id or self.company.qbo_conn_id

    @cached_property
    def settings(self) -> QboSettings:
        return QboSettings.from_conn(conn_info(self.qbo_conn_id), self.qbo_conn_id)

    @cached_property
    def realm_id(self) -> str:
        """The realm: the company's ``realm_id`` (companies file), else the connection's extra.realm_id when the
        connection is the company's (headless), else the one Connect stored in the company's database; none is an
        error naming the Connect page."""
        realm = self.company.realm_id or (self.settings.realm_id if self.owns_connection else None) \
            or current_realm(self.staging.engine)
        if not realm:
            raise ConfigError(NOT_CONNECTED)
        return realm

    @cached_property
    def owns_connection(self) -> bool:
        """Whether the connection's realm and refresh token (extras) are this company's: no other company uses the
        connection, or this is ``default``, whose they were before there were companies (the adoption). Another
        company sharing the connection (one Intuit app serves every realm) takes only the app's credentials."""
        return self.company.is_default or not load_companies().qbo_conn_shared(self.company)

    @property
    def seed_refresh_token(self) -> str | None:
        """The connection's extra ``refresh_token`` when it is this company's (``owns_connection``), else None."""
        return self.settings.refresh_token if self.owns_connection else None

    def token_endpoint(self) -> TokenEndpoint:
        s = self.settings
        return TokenEndpoint(s.token_url, s.client_id, s.client_secret, revoke_url=s.revoke_url)

    def stored_tokens(self) -> TokenStore:
        """The realm's token chain as stored (seeded from the connection's refresh token when there is none yet);
        a ConfigError when nothing is stored and there is nothing to seed from."""
        cipher = fernet()
        if cipher is None:
            log.warning("No Fernet key configured: QBO tokens are stored unencrypted in the staging database")
        return TokenStore(self.staging.engine, self.realm_id, self.token_endpoint(),
                          seed_refresh_token=self.seed_refresh_token, cipher=cipher)

    def token_store(self) -> TokenStore:
        """The realm's token chain; refuses (with how to reconnect) while the company is disconnected."""
        require_connected(self.staging.engine, self.realm_id, self.seed_refresh_token)
        return self.stored_tokens()

    def build_client(self) -> QboClient:
        s = self.settings
        policy = RetryPolicy(initial_wait=s.retry_initial_wait, max_wait=s.retry_max_wait,
                             throttle_deadline=s.throttle_deadline, error_deadline=s.error_deadline,
                             throttle_wait=s.throttle_wait)
        limits = QboLimits(per_minute=int(s.rate_per_minute), per_second=s.rate_per_second or None,
                           batch_per_minute=s.batch_per_minute, in_flight=s.max_in_flight)
        return QboClient(s.base_url, self.realm_id, self.token_store(), policy=policy, limits=limits,
                         redis_client=redis_client())

    def test_connection(self) -> tuple[bool, str]:
        try:
            info = self.get_conn().company_info()
            return True, f"QuickBooks Online answered: {info.get('CompanyName') or 'company'} " \
                         f"(realm {self.realm_id})"
        except Exception as exc:  # noqa: BLE001 - Airflow's "Test connection" shows any failure as text
            return False, str(exc)
