"""Settings from Airflow Connections and Variables (or the environment), with documented defaults.

Connections (DESIGN.md B):
- ``atera_default``: host = API base URL, password = an Atera API token (a JWT, sent as ``Authorization: Bearer``)
  or a legacy API key (sent as ``X-API-KEY``); extra ``auth`` (``bearer`` | ``api_key``) forces either, extra
  ``rate_per_minute`` (default 700).
- ``quickbooks_default``: host = API base URL, login = client id, password = client secret, extra ``realm_id``,
  ``refresh_token`` (seeds the token store once), ``oauth_base_url`` (default Intuit's), QBO's per-realm limits
  ``rate_per_minute`` (default 500), ``rate_per_second`` (10), ``batch_per_minute`` (40), ``max_in_flight`` (10),
  ``throttle_wait`` (seconds to wait after a 429 without Retry-After: Intuit says 60, the default),
  ``retry_initial_wait``/``retry_max_wait`` (seconds), ``throttle_deadline`` (seconds a task run may spend in all
  waiting out 429s, default 1800), ``error_deadline`` (seconds one request keeps retrying 5xx and connection
  errors, default 600) and ``environment`` (``production`` | ``sandbox``: which QBO web app the export report
  links to; default from the host — ``sandbox-quickbooks.api.intuit.com`` is the sandbox, any other host
  production; the twins' connection says ``sandbox``).
  Extra ``revoke_url`` overrides where the disconnect revokes (default Intuit's, or the twin's under a custom
  ``oauth_base_url``).
- ``atera_qbo_staging``: conn_type ``sqlite`` (host = file path) or ``postgres``; default SQLite file
  ``$AIRFLOW_HOME/atera_qbo_staging.db``.
Variable ``atera_qbo_review_dir``: where review/override/report files go; default ``$AIRFLOW_HOME/atera_qbo/review``;
a relative ``overrides_path`` is resolved against it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, overload
from urllib.parse import quote

from airflow.configuration import conf as airflow_conf
from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException

from .errors import ConfigError

INTUIT_OAUTH_BASE = "https://oauth.platform.intuit.com"
INTUIT_API_BASE = "https://quickbooks.api.intuit.com"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
INTUIT_REVOKE_URL = "https://developer.api.intuit.com" + REVOKE_PATH
QBO_APP_URLS = {"production": "https://app.qbo.intuit.com", "sandbox": "https://app.sandbox.qbo.intuit.com"}


@dataclass(frozen=True)
class ConnInfo:
    """The parts of an Airflow Connection the sync reads (built by hooks.py, or by tests directly)."""

    conn_type: str
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def _base_url(conn: ConnInfo, default: str, name: str) -> str:
    host = (conn.host or default or "").rstrip("/")
    if not host:
        raise ConfigError(f"connection {name}: host (the API base URL) is empty")
    if "://" not in host:
        host = f"https://{host}"
    if conn.port and host.count(":") < 2:
        host = f"{host}:{conn.port}"
    return host


@dataclass(frozen=True)
class AteraSettings:
    base_url: str
    api_key: str = field(repr=False)  # an API token (JWT, sent as a bearer token) or a legacy API key
    rate_per_minute: float = 700
    auth: str | None = None  # extra ``auth``: bearer | api_key forces how the secret is sent (default: its shape)

    @classmethod
    def from_conn(cls, conn: ConnInfo, name: str = "atera_default") -> AteraSettings:
        if not conn.password:
            raise ConfigError(f"connection {name}: password (the Atera API token or key) is empty")
        auth = conn.extra.get("auth")
        return cls(_base_url(conn, "https://app.atera.com", name), conn.password,
                   float(conn.extra.get("rate_per_minute", 700)), str(auth) if auth else None)


@dataclass(frozen=True)
class QboSettings:
    base_url: str
    realm_id: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    oauth_base_url: str = INTUIT_OAUTH_BASE
    rate_per_minute: float = 500
    rate_per_second: int = 10
    batch_per_minute: int = 40
    max_in_flight: int = 10
    retry_initial_wait: float = 1.0
    retry_max_wait: float = 60.0
    throttle_deadline: float = 1800.0
    error_deadline: float = 600.0
    throttle_wait: float = 60.0  # Intuit: "if you see 429, wait 60 seconds before retrying"
    environment: str = "production"
    default_sales_tax_code: str | None = None  # non-US: SalesTaxCodeRef of items created in QBO (qbo/taxes.py)
    discovery_url: str | None = None  # Intuit's OpenID discovery document (Connect); default: Intuit's

    revoke_url_override: str | None = None

    @property
    def token_url(self) -> str:
        return self.oauth_base_url.rstrip("/") + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        """Intuit revokes on another host than it refreshes; a twin (custom oauth_base_url) serves both."""
        if self.revoke_url_override:
            return self.revoke_url_override
        if self.oauth_base_url.rstrip("/") == INTUIT_OAUTH_BASE:
            return INTUIT_REVOKE_URL
        return self.oauth_base_url.rstrip("/") + REVOKE_PATH

    @property
    def app_url(self) -> str:
        """QBO's web app for this company (where the export report's links point)."""
        return QBO_APP_URLS[self.environment]

    @classmethod
    def from_conn(cls, conn: ConnInfo, name: str = "quickbooks_default") -> QboSettings:
        extra = conn.extra or {}
        realm = str(extra.get("realm_id") or "").strip()  # optional: Connect stores the company it connected
        missing = [label for label, value in (("login (client id)", conn.login),
                                              ("password (client secret)", conn.password)) if not value]
        if missing:
            raise ConfigError(f"connection {name}: missing {', '.join(missing)}")
        return cls(
            base_url=_base_url(conn, INTUIT_API_BASE, name),
            realm_id=realm,
            client_id=conn.login or "",
            client_secret=conn.password or "",
            refresh_token=extra.get("refresh_token"),
            oauth_base_url=str(extra.get("oauth_base_url") or INTUIT_OAUTH_BASE),
            rate_per_minute=float(extra.get("rate_per_minute", 500)),
            rate_per_second=int(extra.get("rate_per_second", 10)),
            batch_per_minute=int(extra.get("batch_per_minute", 40)),
            max_in_flight=int(extra.get("max_in_flight", 10)),
            retry_initial_wait=float(extra.get("retry_initial_wait", 1.0)),
            retry_max_wait=float(extra.get("retry_max_wait", 60.0)),
            throttle_deadline=float(extra.get("throttle_deadline", 1800.0)),
            error_deadline=float(extra.get("error_deadline", 600.0)),
            throttle_wait=float(extra.get("throttle_wait", 60.0)),
            revoke_url_override=str(extra["revoke_url"]) if extra.get("revoke_url") else None,
            environment=qbo_environment(extra.get("environment"), conn.host, name),
            default_sales_tax_code=str(extra["default_sales_tax_code"]).strip()
            if extra.get("default_sales_tax_code") not in (None, "") else None,
            discovery_url=str(extra["discovery_url"]) if extra.get("discovery_url") else None,
        )


def public_base_url() -> str:
    """The API server's public base URL (Airflow's ``[api] base_url``): links in messages and the redirect URI
    Connect registers at Intuit."""
    return str(airflow_conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


PLUGIN_PATH = "/atera-qbo"  # where the Airflow plugin mounts its pages
CALLBACK_URL_PATH = "/connect/callback"  # Connect's OAuth redirect URI, under the plugin's path


def page_url(path: str) -> str:
    """The absolute URL of one of the plugin's pages (``/accounting``, ``/connect``, ``/export``...)."""
    return f"{public_base_url()}{PLUGIN_PATH}{path}"


def qbo_environment(value: Any, host: str | None, name: str = "quickbooks_default") -> str:
    """``production`` or ``sandbox``: the connection's extra ``environment`` when set, else from the API host
    (Intuit's sandbox API is ``sandbox-quickbooks.api.intuit.com``; any other host counts as production)."""
    if value:
        env = str(value).strip().lower()
        if env not in QBO_APP_URLS:
            raise ConfigError(f"connection {name}: extra.environment is {value!r}; use 'production' or 'sandbox'")
        return env
    return "sandbox" if "sandbox-quickbooks." in (host or "").lower() else "production"


def staging_url(conn: ConnInfo | None) -> str:
    """SQLAlchemy URL of the staging DB from the ``atera_qbo_staging`` connection (None → the default file)."""
    if conn is None:
        return f"sqlite:///{airflow_home() / 'atera_qbo_staging.db'}"
    kind = (conn.conn_type or "").lower()
    if kind == "sqlite":
        path = conn.host or str(airflow_home() / "atera_qbo_staging.db")
        return f"sqlite:///{path}"
    if kind in ("postgres", "postgresql"):
        auth = quote(conn.login or "postgres", safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        host, port, db = conn.host or "127.0.0.1", conn.port or 5432, conn.schema or "postgres"
        return f"postgresql+psycopg2://{auth}@{host}:{port}/{db}"
    raise ConfigError(f"connection atera_qbo_staging: conn_type {conn.conn_type!r} is not sqlite or postgres")


def review_dir(get_variable: Callable[[str], str | None] | None = None) -> Path:
    value = get_variable("atera_qbo_review_dir") if get_variable else None
    value = value or os.environ.get("ATERA_QBO_REVIEW_DIR")
    path = Path(value) if value else airflow_home() / "atera_qbo" / "review"
    path.mkdir(parents=True, exist_ok=True)
    return path


OVERRIDES_DIRS_VARIABLE = "atera_qbo_overrides_dirs"


def overrides_dirs(review: Path, get_variable: Callable[[str], str | None] | None = None) -> list[Path]:
    """Where an ``overrides_path`` may point: the review dir, and the directories an admin lists in the Variable
    ``atera_qbo_overrides_dirs`` (comma-separated absolute paths; env ``ATERA_QBO_OVERRIDES_DIRS`` else), each
    resolved (symlinks followed)."""
    listed = (get_variable(OVERRIDES_DIRS_VARIABLE) if get_variable else None) \
        or os.environ.get(OVERRIDES_DIRS_VARIABLE.upper()) or ""
    extra = [Path(d.strip()).expanduser() for d in listed.split(",") if d.strip()]
    relative = [str(d) for d in extra if not d.is_absolute()]
    if relative:
        raise ConfigError(f"{OVERRIDES_DIRS_VARIABLE} lists relative paths ({', '.join(relative)}): give absolute "
                          "directories")
    return [review.resolve(), *(d.resolve() for d in extra)]


def overrides_file(value: str, review: Path, get_variable: Callable[[str], str | None] | None = None) -> Path:
    """The overrides file a matching run reads. A relative ``value`` is resolved against the review dir (Variable
    ``atera_qbo_review_dir``, where the review CSV is written); either way the file, symlinks followed, must lie
    inside the review dir or a directory listed in ``atera_qbo_overrides_dirs`` — a param never reads anything
    else on the worker (its environment, its keys). It is read on the WORKER, so it must exist there; the error
    names the path as given and as resolved, never what the file holds."""
    given = Path(str(value).strip()).expanduser()
    path = given if given.is_absolute() else review / given
    shown = f"{str(value)!r}" + ("" if given.is_absolute() else f" (resolved against the review dir: {path})")
    allowed = overrides_dirs(review, get_variable)
    real = path.resolve()  # symlinks followed: a link in the review dir to /etc/passwd is /etc/passwd
    if not any(real.is_relative_to(d) for d in allowed):
        raise ConfigError(f"overrides_path {shown} is outside the directories overrides are read from "
                          f"({', '.join(map(str, allowed))}): put the file in the review dir and pass its name, or "
                          f"have an admin add its directory to the Variable {OVERRIDES_DIRS_VARIABLE}")
    if not real.exists():
        raise ConfigError(f"overrides_path {shown} does not exist on the worker: put the file in the review dir "
                          f"{review} and pass its name, or pass an absolute path the worker can read")
    if not real.is_file():
        raise ConfigError(f"overrides_path {shown} is not a file: pass the CSV itself")
    if not os.access(real, os.R_OK):
        raise ConfigError(f"overrides_path {shown} is not readable by the worker's user: fix its permissions")
    return path


DATA_DOCS_KEEP_RUNS = 48  # validations kept per quality-gate suite (table) in the Data Docs


def data_docs_keep_runs(get_variable: Callable[[str], str | None] | None = None) -> int:
    """How many validations per staging table the Data Docs keep (Variable ``atera_qbo_data_docs_keep_runs``, else
    env ``ATERA_QBO_DATA_DOCS_KEEP_RUNS``, else 48); older ones are pruned."""
    value = get_variable("atera_qbo_data_docs_keep_runs") if get_variable else None
    value = value or os.environ.get("ATERA_QBO_DATA_DOCS_KEEP_RUNS")
    if not value:
        return DATA_DOCS_KEEP_RUNS
    try:
        keep = int(value)
    except ValueError:
        keep = 0
    if keep < 1:
        raise ConfigError(f"atera_qbo_data_docs_keep_runs must be a whole number ≥ 1 (validations kept per table), "
                          f"not {value!r}")
    return keep


DEFAULT_EXPORT_WINDOW_DAYS = 90


def export_window(date_from: str | None, date_to: str | None, today: date) -> tuple[date, date]:
    """The invoice export's window (params ``invoice_date_from``/``invoice_date_to``, yyyy-mm-dd): by default the
    90 days up to ``today`` — the run's day for the DAG, the calendar day for the export page."""
    return date_window(date_from, date_to, today, DEFAULT_EXPORT_WINDOW_DAYS,
                       names=("invoice_date_from", "invoice_date_to"))


def parse_extra(extra: Any) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        parsed = json.loads(extra)
    except ValueError as exc:
        raise ConfigError("a connection's extra is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise ConfigError("a connection's extra must be a JSON object like {\"realm_id\": \"...\"}")
    return parsed


def date_window(date_from: str | None, date_to: str | None, default_end: date, default_days: int, *,
                names: tuple[str, str] = ("date_from", "date_to")) -> tuple[date, date]:
    """A DAG's yyyy-mm-dd window params: missing end → ``default_end``, missing start → ``default_days`` before the
    end; a bad date or a reversed window is a ConfigError naming the param."""
    def parse(value: str, name: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(f"param {name}={value!r} is not a date like 2026-10-31") from exc

    end = parse(date_to, names[1]) if date_to else default_end
    start = parse(date_from, names[0]) if date_from else end - timedelta(days=default_days)
    if start > end:
        raise ConfigError(f"{names[0]} {start} is after {names[1]} {end}")
    return start, end



# ------------------------------------------------------------------------- Airflow's stores: the one reader each
@overload
def conn_info(conn_id: str, *, required: Literal[True] = ...) -> ConnInfo: ...


@overload
def conn_info(conn_id: str, *, required: bool) -> ConnInfo | None: ...


def conn_info(conn_id: str, *, required: bool = True) -> ConnInfo | None:
    """The connection's parts; a missing one is a ConfigError (or None when it is optional). Works in a task, in
    the API server and on the command line (Airflow picks the secrets backends of the process)."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        if not required:
            return None
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined: see README 'Pointing it at real "
                          "Atera and QBO accounts'") from exc
    return ConnInfo(conn_type=conn.conn_type or "", host=conn.host, login=conn.login, password=conn.password,
                    schema=conn.schema, port=conn.port, extra=parse_extra(conn.extra))


def variable(name: str) -> str | None:
    """An Airflow Variable, or None when it is not set (or no Variable store can be reached: the defaults apply)."""
    try:
        value = Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - no metadata DB / variable backend here: the documented defaults apply
        return None
    return None if value is None else str(value)


def setting(name: str) -> str | None:
    """An Airflow Variable, else the environment variable of the same name upper-cased, else None."""
    return variable(name) or os.environ.get(name.upper())
