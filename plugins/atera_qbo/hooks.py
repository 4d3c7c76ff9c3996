"""Airflow hooks: build the sync's clients from Connections. Credentials come only from the Connection and are
never logged. Swapping production for the twins is a change of connection host, never a code flag."""
from __future__ import annotations

import logging
import os
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from .config import AteraSettings, ConnInfo, QboSettings, parse_extra, staging_url
from .errors import ConfigError

log = logging.getLogger(__name__)


def conn_info(conn_id: str, *, required: bool = True) -> ConnInfo | None:
    """The connection's parts; a missing one is a ConfigError (or None when it is optional)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        if not required:
            return None
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined: see README 'Pointing it at real "
                          "Atera and QBO accounts'") from exc
    return ConnInfo(conn_type=conn.conn_type or "", host=conn.host, login=conn.login, password=conn.password,
                    schema=conn.schema, port=conn.port, extra=parse_extra(conn.extra))


def fernet() -> Any:
    """Airflow's Fernet (tokens at rest) when a key is configured, else None."""
    key = os.environ.get("AIRFLOW__CORE__FERNET_KEY")
    if not key:
        try:
            from airflow.configuration import conf

            key = conf.get("core", "fernet_key", fallback="")
        except Exception:  # pragma: no cover - configuration unavailable
            key = ""
    if not key:
        return None
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(k.strip().encode()) for k in key.split(",") if k.strip()])


def redis_client() -> Any | None:
    """A client of the Redis of connection ``atera_qbo_redis`` (conn type redis: host, port, schema = db number,
    password), which holds the rate budgets every worker shares; None when the connection is not defined (then
    each API client keeps its own budget — right for one worker, too generous for many). The caller owns it."""
    info = conn_info("atera_qbo_redis", required=False)
    if info is None:
        return None
    import redis

    return redis.Redis(host=info.host or "127.0.0.1", port=info.port or 6379, db=int(info.schema or 0),
                       password=info.password or None, socket_timeout=10, socket_connect_timeout=5)


class _OwnsClient:
    """A hook builds its API client (one HTTP session, one rate budget, for QBO one token store) on the first
    ``get_conn`` and hands out that same client until ``close``."""

    def build_client(self) -> Any:
        raise NotImplementedError

    @cached_property
    def client(self) -> Any:
        return self.build_client()

    def get_conn(self) -> Any:
        return self.client

    def close(self) -> None:
        """Close the cached client's session; the next ``get_conn`` builds a new one."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()


class StagingHook(BaseHook):
    conn_name_attr = "staging_conn_id"
    default_conn_name = "atera_qbo_staging"
    conn_type = "sqlite"
    hook_name = "Atera-QBO staging"

    def __init__(self, *, staging_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.staging_conn_id = staging_conn_id

    @cached_property
    def staging(self) -> Any:
        """The staging database this hook owns: one engine, migrated to the current schema on first use."""
        from .staging.db import Staging

        return Staging(staging_url(conn_info(self.staging_conn_id, required=False)))

    @property
    def engine(self) -> Any:
        return self.staging.engine

    def get_conn(self) -> Any:
        return self.engine


class AteraHook(_OwnsClient, BaseHook):
    conn_name_attr = "atera_conn_id"
    default_conn_name = "atera_default"
    conn_type = "http"
    hook_name = "Atera"

    def __init__(self, *, atera_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.atera_conn_id = atera_conn_id

    @cached_property
    def settings(self) -> AteraSettings:
        return AteraSettings.from_conn(conn_info(self.atera_conn_id), self.atera_conn_id)

    def build_client(self) -> Any:
        from .atera.client import AteraClient

        s = self.settings
        return AteraClient(s.base_url, s.api_key, rate_per_minute=s.rate_per_minute, redis_client=redis_client())

    def test_connection(self) -> tuple[bool, str]:
        try:
            client = self.get_conn()
            client.get("/account", entity="Atera account")
            return True, "Atera answered"
        except Exception as exc:
            return False, str(exc)


class QuickBooksHook(_OwnsClient, BaseHook):
    conn_name_attr = "qbo_conn_id"
    default_conn_name = "quickbooks_default"
    conn_type = "http"
    hook_name = "QuickBooks Online"

    def __init__(self, *, qbo_conn_id: str = default_conn_name, staging: StagingHook | None = None) -> None:
        super().__init__()
        self.qbo_conn_id = qbo_conn_id
        self.staging = staging or StagingHook()

    @cached_property
    def settings(self) -> QboSettings:
        return QboSettings.from_conn(conn_info(self.qbo_conn_id), self.qbo_conn_id)

    def token_store(self) -> Any:
        """The realm's token chain; refuses (with how to reconnect) while the company is disconnected."""
        from .qbo.auth import TokenEndpoint, TokenStore
        from .qbo.connection import require_connected

        s = self.settings
        require_connected(self.staging.engine, s.realm_id, s.refresh_token)
        cipher = fernet()
        if cipher is None:
            log.warning("No Fernet key configured: QBO tokens are stored unencrypted in the staging database")
        endpoint = TokenEndpoint(s.token_url, s.client_id, s.client_secret, revoke_url=s.revoke_url)
        return TokenStore(self.staging.engine, s.realm_id, endpoint, seed_refresh_token=s.refresh_token,
                          cipher=cipher)

    def build_client(self) -> Any:
        from .http import RetryPolicy
        from .qbo.client import QboClient, QboLimits

        s = self.settings
        policy = RetryPolicy(initial_wait=s.retry_initial_wait, max_wait=s.retry_max_wait,
                             throttle_deadline=s.throttle_deadline, error_deadline=s.error_deadline)
        limits = QboLimits(per_minute=int(s.rate_per_minute), batch_per_minute=s.batch_per_minute,
                           in_flight=s.max_in_flight)
        return QboClient(s.base_url, s.realm_id, self.token_store(), policy=policy, limits=limits,
                         redis_client=redis_client())
