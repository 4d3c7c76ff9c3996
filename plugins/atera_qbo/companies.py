"""Companies: one QBO realm fed by one Atera account each; one deployment serves any number of them.

The list is a JSON file (``companies_file()``: ``[atera_qbo] companies_file`` in airflow.cfg, env
``ATERA_QBO_COMPANIES_FILE``, else ``$AIRFLOW_HOME/atera_qbo/companies.json``), read without network or database
access, so the DAG files can generate each company's DAGs from it at parse time. Connect's "Add a company" writes
it; a headless deployment declares it::

    {"companies": [
      {"id": "default", "name": "Contoso US", "route": {"country": ["United States", "US", "USA"]}},
      {"id": "uk", "name": "Contoso UK", "qbo_conn_id": "quickbooks_uk",
       "route": {"country": ["United Kingdom", "GB", "UK"]}, "logins": ["finance_uk"]},
      {"id": "fabrikam", "name": "Fabrikam", "atera_conn_id": "atera_fabrikam", "qbo_conn_id": "quickbooks_fabrikam"}
    ]}

- ``id``: lower-case letters, digits and ``_`` (starts with a letter, at most 30): names the company's DAGs
  (``atera_qbo_invoice_export__uk``), its staging database, its review dir and its pages (``?company=uk``).
  ``default`` is the company of a deployment from before companies existed: its DAG ids, staging database and
  review dir are the ones it always had (the adoption), so its history, pauses and permissions carry over.
- ``qbo_conn_id`` (default ``quickbooks_default``: one Intuit app serves every realm), ``atera_conn_id`` (default
  ``atera_default``), ``staging_conn_id`` (default: derived from ``atera_qbo_staging``, see ``staging_url``),
  ``realm_id`` (optional: the realm Connect must connect; else whichever the admin picks at Intuit).
- ``route``: which customers of the Atera account are this company's — ``{"country": [...]}`` (Atera's customer
  ``Country``, compared case- and space-insensitively) or ``{"custom_field": "Billing entity", "values": [...]}``
  (an Atera customer custom field). Required when several companies share an Atera account; a customer no rule
  places is reported (wizard, reconciliation) and never exported.
- ``logins``: Airflow logins limited to this company (and any other company that lists them); a login no company
  lists sees every company its Airflow role allows (``auth_manager.CompanyAuthManager``).

No file: one company, ``default``, exactly the single-company deployment of before.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from airflow.configuration import conf as airflow_conf

from .config import airflow_home, conn_info, staging_url
from .errors import ConfigError

DEFAULT_ID = "default"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
DAG_SEPARATOR = "__"
COMPANY_PARAM = "company"  # the query parameter of the web UI's pages


def companies_file() -> Path:
    """Where the company list lives (never a database or network read: DAG files call this while parsing)."""
    configured = airflow_conf.get("atera_qbo", "companies_file", fallback=None) \
        or os.environ.get("ATERA_QBO_COMPANIES_FILE")
    return Path(configured).expanduser() if configured else airflow_home() / "atera_qbo" / "companies.json"


def norm(value: Any) -> str:
    """A routing value as compared: blanks collapsed, case folded (``" united  Kingdom"`` = ``"United Kingdom"``)."""
    return " ".join(str(value or "").split()).casefold()


@dataclass(frozen=True)
class Route:
    """Which Atera customers are the company's: by ``Country`` or by one customer custom field."""

    kind: Literal["country", "custom_field"]
    values: frozenset[str]  # normalised (``norm``)
    field: str | None = None  # the custom field's name (kind custom_field)
    shown: tuple[str, ...] = ()  # the values as written, for messages

    def describe(self) -> str:
        what = "country" if self.kind == "country" else f"custom field {self.field!r}"
        return f"{what} in ({', '.join(self.shown)})"

    def places(self, country: str | None, custom_value: str | None = None) -> bool:
        value = country if self.kind == "country" else custom_value
        return norm(value) in self.values if value not in (None, "") else False


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    qbo_conn_id: str = "quickbooks_default"
    atera_conn_id: str = "atera_default"
    staging_conn_id: str | None = None
    realm_id: str | None = None
    route: Route | None = None
    logins: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_ID

    def dag_id(self, family: str) -> str:
        """This company's DAG of a family (``atera_qbo_invoice_export`` → ``atera_qbo_invoice_export__uk``)."""
        return family if self.is_default else f"{family}{DAG_SEPARATOR}{self.id}"

    def dag_args(self, family: str, doc: str, *, what: str, tags: Sequence[str]) -> dict[str, Any]:
        """What every DAG of this company declares alike: its id, tags, description and docs (which name the
        company and its connections), a start in the past, no catch-up, one run at a time."""
        return {"dag_id": self.dag_id(family), "start_date": datetime(2026, 1, 1), "catchup": False,
                "max_active_runs": 1, "tags": [*tags, f"company:{self.id}"], "description": f"{self.name}: {what}",
                "doc_md": f"**Company: {self.name}** (`{self.id}`; QBO connection `{self.qbo_conn_id}`, "
                          f"Atera connection `{self.atera_conn_id}`)\n{doc}"}

    def review_dir(self, root: Path) -> Path:
        """This company's review dir under the deployment's (``default`` keeps the root it always had)."""
        path = root if self.is_default else root / "companies" / self.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def staging_url(self, base_url: str) -> str:
        """This company's staging database, derived from the deployment's (``atera_qbo_staging``) URL: the same
        database for ``default`` (adopted with its rows); for another company a SQLite file beside it
        (``atera_qbo_staging.uk.db``) or, on PostgreSQL, the schema ``atera_qbo_<id>`` of the same database."""
        if self.is_default:
            return base_url
        return company_url(base_url, self.id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.qbo_conn_id != "quickbooks_default":
            out["qbo_conn_id"] = self.qbo_conn_id
        if self.atera_conn_id != "atera_default":
            out["atera_conn_id"] = self.atera_conn_id
        for key in ("staging_conn_id", "realm_id"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.route is not None:
            out["route"] = ({"country": list(self.route.shown)} if self.route.kind == "country"
                            else {"custom_field": self.route.field, "values": list(self.route.shown)})
        if self.logins:
            out["logins"] = list(self.logins)
        return out


def company_staging_url(company: Company, deployment_conn_id: str = "atera_qbo_staging") -> str:
    """The SQLAlchemy URL of ``company``'s staging database: its own ``staging_conn_id``, else derived from the
    deployment's connection (``Company.staging_url``). The one place it is decided (hooks, notifications)."""
    if company.staging_conn_id:
        return staging_url(conn_info(company.staging_conn_id))
    return company.staging_url(staging_url(conn_info(deployment_conn_id, required=False)))


def schema_name(company_id: str) -> str:
    return f"atera_qbo_{company_id}"


def company_url(base_url: str, company_id: str) -> str:
    """The staging URL of company ``company_id`` beside the deployment's ``base_url`` (see ``Company.staging_url``)."""
    parts = urlsplit(base_url)
    if parts.scheme.startswith("sqlite"):
        path = base_url.split(":///", 1)[1] if ":///" in base_url else ""
        if not path or path == ":memory:":
            raise ConfigError(f"company {company_id}: an in-memory staging database cannot hold several companies")
        stem, dot, suffix = path.rpartition(".")
        file = f"{stem}.{company_id}.{suffix}" if dot and "/" not in suffix else f"{path}.{company_id}"
        return f"{base_url.split(':///', 1)[0]}:///{file}"
    if parts.scheme.startswith("postgresql"):
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
        query.append(("options", f"-csearch_path={schema_name(company_id)}"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    raise ConfigError(f"company {company_id}: staging URL scheme {parts.scheme!r} is not sqlite or postgresql")


@dataclass(frozen=True)
class Companies:
    """The deployment's companies, in the file's order (the first is where a page without ``?company=`` opens)."""

    items: tuple[Company, ...]
    source: Path | None = None  # the file they were read from (None: no file, the one implicit company)
    _by_id: Mapping[str, Company] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.items})

    def __iter__(self) -> Iterator[Company]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.items]

    def get(self, company_id: str | None) -> Company:
        """The company ``company_id`` (None: the first); an unknown id is a ConfigError naming the known ones."""
        if company_id in (None, ""):
            return self.items[0]
        company = self._by_id.get(str(company_id))
        if company is None:
            raise ConfigError(f"no company {company_id!r}: the companies are {', '.join(self.ids)} "
                              f"({self.source or 'no companies file: only default'})")
        return company

    def of_dag(self, dag_id: str | None) -> Company | None:
        """The company whose DAG ``dag_id`` is (None: not one of the sync's company DAGs)."""
        if not dag_id:
            return None
        family, sep, suffix = dag_id.partition(DAG_SEPARATOR)
        if not sep:
            return self._by_id.get(DEFAULT_ID)
        company = self._by_id.get(suffix)
        return company if company is not None and company.dag_id(family) == dag_id else None

    def for_dag(self, dag_id: str | None) -> Company:
        """The company a DAG's task works for (``of_dag``); with one company, that one whatever the DAG (a test,
        the CLI); a DAG no company owns, among several, is a ConfigError naming them."""
        company = self.of_dag(dag_id)
        if company is not None:
            return company
        if len(self.items) == 1:
            return self.items[0]
        raise ConfigError(f"{dag_id or 'this code'} is not one company's DAG and there are {len(self.items)} "
                          f"companies ({', '.join(self.ids)}): run the company's own DAG")

    def sharing_atera(self, company: Company) -> list[Company]:
        """Every company fed by ``company``'s Atera account (itself included), in file order."""
        return [c for c in self.items if c.atera_conn_id == company.atera_conn_id]

    def qbo_conn_shared(self, company: Company) -> bool:
        return sum(1 for c in self.items if c.qbo_conn_id == company.qbo_conn_id) > 1

    def visible_to(self, login: str) -> list[Company]:
        """The companies a login may see: those listing it, or every one when none does."""
        listed = [c for c in self.items if login in c.logins]
        return listed or list(self.items)

    def limited(self, login: str) -> bool:
        return any(login in c.logins for c in self.items)


SINGLE = Companies((Company(DEFAULT_ID, "default"),))


# ------------------------------------------------------------------------------ the company a task works for
@dataclass(frozen=True)
class AtWork:
    company: Company
    several: bool  # the deployment has several companies: messages name this one, links carry ?company=


_AT_WORK: ContextVar[AtWork | None] = ContextVar("atera_qbo_company_at_work", default=None)


@contextmanager
def working_for(company: Company, *, several: bool) -> Iterator[None]:
    """What runs inside the block works for ``company`` (the tasks' wiring, the failure callback): the messages it
    writes name that company's DAGs (``dag_of``), notifications its name and pages."""
    token = _AT_WORK.set(AtWork(company, several))
    try:
        yield
    finally:
        _AT_WORK.reset(token)


def at_work() -> AtWork | None:
    return _AT_WORK.get()


def dag_of(family: str) -> str:
    """The DAG of ``family`` a message should name: the company at work's (``atera_qbo_matching__uk``), else the
    family's own id."""
    now = _AT_WORK.get()
    return now.company.dag_id(family) if now else family


# --------------------------------------------------------------------------------------------- parsing the file
def _route(raw: Any, where: str) -> Route | None:
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: route must be an object like {{\"country\": [\"United Kingdom\"]}}")
    if "country" in raw and "custom_field" not in raw:
        kind: Literal["country", "custom_field"] = "country"
        values, field_name = raw["country"], None
    elif "custom_field" in raw:
        kind, values, field_name = "custom_field", raw.get("values"), str(raw["custom_field"] or "").strip()
        if not field_name:
            raise ConfigError(f"{where}: route.custom_field is empty: name the Atera customer custom field")
    else:
        raise ConfigError(f"{where}: route needs \"country\" or \"custom_field\" (with \"values\")")
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigError(f"{where}: route values must be a non-empty list of strings")
    return Route(kind, frozenset(norm(v) for v in values), field_name, tuple(v.strip() for v in values))


def _company(raw: Any, index: int, source: Path) -> Company:
    where = f"{source}: company #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not an object")
    cid = str(raw.get("id") or "").strip()
    if not ID_PATTERN.match(cid):
        raise ConfigError(f"{where}: id {cid!r} must be lower-case letters, digits or _, starting with a letter, "
                          "at most 30 characters (it names the company's DAGs, database and pages)")
    where = f"{source}: company {cid!r}"
    unknown = set(raw) - {"id", "name", "qbo_conn_id", "atera_conn_id", "staging_conn_id", "realm_id", "route",
                          "logins"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    logins = raw.get("logins") or []
    if not isinstance(logins, list) or not all(isinstance(x, str) and x for x in logins):
        raise ConfigError(f"{where}: logins must be a list of Airflow user names")

    def opt(key: str) -> str | None:
        value = raw.get(key)
        return str(value).strip() or None if value is not None else None

    return Company(id=cid, name=str(raw.get("name") or cid).strip(),
                   qbo_conn_id=opt("qbo_conn_id") or "quickbooks_default",
                   atera_conn_id=opt("atera_conn_id") or "atera_default",
                   staging_conn_id=opt("staging_conn_id"), realm_id=opt("realm_id"),
                   route=_route(raw.get("route"), where), logins=tuple(logins))


def _unique(items: Sequence[Company], key: str, what: str, source: Path) -> None:
    seen: dict[Any, str] = {}
    for c in items:
        value = getattr(c, key)
        if value is None:
            continue
        value = norm(value) if key == "name" else value
        if value in seen:
            raise ConfigError(f"{source}: companies {seen[value]!r} and {c.id!r} have the same {what}")
        seen[value] = c.id


def _check_routes(items: Sequence[Company], source: Path) -> None:
    """Companies sharing an Atera account each need a rule, and no two rules may claim the same value."""
    by_account: dict[str, list[Company]] = {}
    for c in items:
        by_account.setdefault(c.atera_conn_id, []).append(c)
    for account, group in by_account.items():
        if len(group) < 2:
            continue
        missing = [c.id for c in group if c.route is None]
        if missing:
            raise ConfigError(f"{source}: companies {', '.join(c.id for c in group)} share the Atera account of "
                              f"connection {account}; {', '.join(missing)} need(s) a route (by country or custom "
                              "field) saying which customers are theirs")
        claimed: dict[tuple[str, str | None, str], str] = {}
        for c in group:
            assert c.route is not None
            for value in c.route.values:
                key = (c.route.kind, c.route.field, value)
                if key in claimed:
                    raise ConfigError(f"{source}: companies {claimed[key]!r} and {c.id!r} both route "
                                      f"{c.route.kind} {value!r}: a customer must belong to one company")
                claimed[key] = c.id


def parse_companies(data: Any, source: Path) -> Companies:
    if not isinstance(data, dict) or not isinstance(data.get("companies"), list) or not data["companies"]:
        raise ConfigError(f"{source}: expected {{\"companies\": [{{\"id\": ..., \"name\": ...}}, ...]}} with at "
                          "least one company")
    items = [_company(raw, i, source) for i, raw in enumerate(data["companies"])]
    _unique(items, "id", "id", source)
    _unique(items, "name", "name", source)
    _unique(items, "realm_id", "realm_id (one QBO company cannot be two companies here)", source)
    _unique(items, "staging_conn_id", "staging_conn_id (each company's rows need their own database)", source)
    _check_routes(items, source)
    return Companies(tuple(items), source)


_CACHE: dict[Path, tuple[float, int, Companies]] = {}
_LOCK = threading.Lock()


def load_companies(path: Path | None = None) -> Companies:
    """The companies of ``path`` (default ``companies_file()``); the one implicit ``default`` company when there is
    no file. Re-read when the file changes; a broken file is a ConfigError naming it and what is wrong."""
    path = path or companies_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return SINGLE
    with _LOCK:
        cached = _CACHE.get(path)
        if cached and cached[:2] == (stat.st_mtime, stat.st_size):
            return cached[2]
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}): fix it (see README 'Several companies')") from exc
    companies = parse_companies(data, path)
    with _LOCK:
        _CACHE[path] = (stat.st_mtime, stat.st_size, companies)
    return companies


def write_companies(companies: Sequence[Company], path: Path | None = None) -> Companies:
    """Validate and write the list atomically (a reader never sees half a file); answers what was written."""
    path = path or companies_file()
    data = {"companies": [c.to_json() for c in companies]}
    parsed = parse_companies(data, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".companies.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    with _LOCK:
        _CACHE.pop(path, None)
    return parsed


def add_company(company: Company, path: Path | None = None) -> Companies:
    """Append ``company`` to the list (the implicit ``default`` written out first when there was no file)."""
    current = load_companies(path)
    if company.id in current.ids:
        raise ConfigError(f"there is already a company {company.id!r}: pick another id")
    return write_companies([*current.items, company], path)
