"""Connect from the browser: "Connect to QuickBooks" (Intuit's OAuth authorization-code flow, ``qbo.connect``),
the callback, the confirmation a new company needs, and the Atera credentials, each side with "Test connection".
Only for users who may manage the company (Airflow's edit permission on its QBO connection, ``quickbooks_default``
unless the companies file names another). Secrets go to the encrypted token store (QBO) or Airflow's connection
(Atera), never a file or a log.

Everything acts on the page's company (``?company=``). The callback URL is one for every company (the one
registered at Intuit), so the OAuth state names the company (``<company id>.<random>``): the callback finds the
state in THAT company's database (``security.requested_company`` reads it). A realm already connected to another
company (or declared for one in the companies file) is refused, naming that company, and nothing is stored.
"""
from __future__ import annotations

import json
import logging
from typing import Annotated
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..atera.client import AteraClient
from ..companies import Company
from ..config import CALLBACK_URL_PATH, page_url
from ..errors import ApiError, ConfigError
from ..extract.qbo import pull_preferences
from ..hooks import AteraHook, QuickBooksHook, fernet
from ..qbo.auth import TokenStore
from ..qbo.client import QboClient
from ..qbo.connect import ConnectFlow, ConnectRefused, Grant, discover, discovery_url
from ..qbo.connection import current_realm, record_connected
from ..staging.db import table
from . import airflow_conns
from .deps import Engine, Services, Svc
from .pages import SECURITY_HEADERS, ManageIntegration, Page
from .security import all_companies, check_csrf

log = logging.getLogger(__name__)
router = APIRouter()
STAGED = ("map_customers", "map_products", "export_invoices")  # what belongs to the connected company
INTUIT_AUTHORIZATION_ORIGIN = "https://appcenter.intuit.com"  # Intuit's authorization endpoint, both environments
_authorization_origins: dict[str, str] = {}  # discovery URL → its authorization endpoint's origin


def redirect_uri() -> str:
    """The plugin's callback on the API server's public base URL: what to register in Intuit's developer portal."""
    return page_url(CALLBACK_URL_PATH)


def flow(engine: sa.Engine, company: Company) -> ConnectFlow:
    s = QuickBooksHook(company=company).settings
    # the company's states live in its database and start with its id (``<id>.<random>``; an id has no dot), so
    # the one callback URL finds the company a Connect was started for
    return ConnectFlow(engine, discover(discovery_url(s.discovery_url, s.environment)), client_id=s.client_id,
                       client_secret=s.client_secret, redirect_uri=redirect_uri(), state_prefix=f"{company.id}.")


def authorization_origin(company: Company) -> str:
    """The origin of the discovery document's authorization endpoint (Intuit's consent page), read once per
    discovery URL; Intuit's own when it cannot be read (Connect then says why)."""
    try:
        s = QuickBooksHook(company=company).settings
        url = discovery_url(s.discovery_url, s.environment)
    except ConfigError:
        return INTUIT_AUTHORIZATION_ORIGIN
    if url not in _authorization_origins:
        try:
            parts = urlsplit(discover(url, timeout=5).authorization_endpoint)
        except ConfigError:
            return INTUIT_AUTHORIZATION_ORIGIN
        _authorization_origins[url] = f"{parts.scheme}://{parts.netloc}"
    return _authorization_origins[url]


def connect_render(page: Page, engine: sa.Engine, tested: str, result: str) -> HTMLResponse:
    """The Connect page. Its CSP lets the Connect form's redirect go on to Intuit's consent page: a browser
    follows a form post's redirect only to an origin the page's ``form-action`` names."""
    companies = all_companies()
    response = page.render("connect.html", title="Connect", redirect_uri=redirect_uri(),
                           realm=current_realm(engine), atera=airflow_conns.atera_summary(page.company.atera_conn_id),
                           tested=tested, result=result, may_add=not companies.limited(page.user_name),
                           atera_conns=sorted({"atera_default", *(c.atera_conn_id for c in companies)}),
                           sharing=[c for c in companies.sharing_atera(page.company) if c != page.company])
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = csp.replace(
        "form-action 'self'", f"form-action 'self' {authorization_origin(page.company)}")
    return response


@router.get("/connect", response_class=HTMLResponse)
def connect_page(page: ManageIntegration, engine: Engine, tested: str = "", result: str = "") -> HTMLResponse:
    return connect_render(page, engine, tested, result)


@router.post("/connect/start")
def start(page: ManageIntegration, engine: Engine, csrf: Annotated[str, Form()] = "") -> Response:
    """Off to Intuit's consent page, with a state bound to this user."""
    check_csrf(page.request, page.user, csrf)
    try:
        url = flow(engine, page.company).start(page.user_name)
    except ConfigError as exc:
        return page.refused("Connect", str(exc), 503)
    return RedirectResponse(url, status_code=303)


@router.get("/connect/callback", response_class=HTMLResponse)
def callback(page: ManageIntegration, engine: Engine, svc: Svc, request: Request) -> Response:
    """Intuit's answer, for the company its state names. The state is this request's CSRF check; a refusal of
    any kind stores nothing."""
    query = dict(request.query_params)
    try:
        connect = flow(engine, page.company)
        grant = connect.finish(query, page.user_name)
    except ConnectRefused as exc:
        return page.refused("Connect", str(exc), 400)
    except ConfigError as exc:
        return page.refused("Connect", str(exc), 503)
    taken = realm_refusal(svc, page.company, grant.realm_id)
    if taken:
        return page.refused("Connect", taken, 409)
    other = _staged_company(engine)
    if other is not None and other != grant.realm_id:
        _hold(engine, query["state"], grant)
        return page.render("connect_confirm.html", title="A new company?", staged=other, realm=grant.realm_id,
                           state=query["state"])
    return _install(page, engine, grant)


@router.post("/connect/confirm")
def confirm(page: ManageIntegration, engine: Engine, svc: Svc, state: Annotated[str, Form()] = "",
            csrf: Annotated[str, Form()] = "", new_company: Annotated[str, Form()] = "") -> Response:
    """The user's answer to "this is another company than the one staged": only a ticked box connects it."""
    check_csrf(page.request, page.user, csrf)
    grant = _release(engine, state, page.user_name)
    if grant is None:
        return page.refused("Connect", "nothing is waiting for a confirmation (it was answered already, or "
                            "belongs to another user): start again with Connect", 400)
    if new_company != "1":
        return page.refused("Connect", "QuickBooks was not connected: the new company was not confirmed, nothing "
                            "was stored (the staged company stays connected as it was)", 400)
    taken = realm_refusal(svc, page.company, grant.realm_id)
    if taken:
        return page.refused("Connect", taken, 409)
    return _install(page, engine, grant)


def realm_refusal(svc: Services, company: Company, realm: str) -> str | None:
    """Why ``realm`` cannot be ``company``'s (it is another company's, or the file declares another), or None."""
    if company.realm_id and company.realm_id != realm:
        return (f"QuickBooks company {realm} is not {company.name}'s: the companies file declares realm "
                f"{company.realm_id} for company {company.id}. Nothing was stored; sign in to Intuit with that "
                "QuickBooks company")
    for other in all_companies():
        if other.id == company.id:
            continue
        held = other.realm_id
        if held is None:
            try:
                held = current_realm(svc.engine(other))
            except Exception:  # noqa: BLE001 - a database that cannot be read holds no realm we could compare
                log.warning("Connect: company %s's database could not be read to compare realms", other.id)
        if held == realm:
            return (f"QuickBooks company {realm} is already connected to company {other.id} ({other.name}): one "
                    f"QuickBooks company cannot be two companies here. Nothing was stored; for {company.name}, "
                    "sign in to Intuit with its own QuickBooks company")
    return None


def _staged_company(engine: sa.Engine) -> str | None:
    """The company whose mappings or ledger are staged (None on a fresh deployment: any company is welcome)."""
    realm = current_realm(engine)
    if realm is None:
        return None
    with engine.connect() as conn:
        has_data = any(conn.execute(sa.select(sa.literal(1)).select_from(table(name)).limit(1)).first()
                       for name in STAGED)
    return realm if has_data else None


def _hold(engine: sa.Engine, state: str, grant: Grant) -> None:
    cipher = fernet()
    text = json.dumps(grant.body)
    sealed = cipher.encrypt(text.encode()).decode() if cipher else text
    states = table("oauth_states")
    with engine.begin() as conn:
        conn.execute(sa.update(states).where(states.c.state == state)
                     .values(pending_realm=grant.realm_id, pending_grant=sealed))


def _release(engine: sa.Engine, state: str, user: str) -> Grant | None:
    """The held grant of ``state`` (this user's), taken out of the table whatever the answer."""
    states = table("oauth_states")
    with engine.begin() as conn:
        row = conn.execute(sa.select(states).where(states.c.state == state, states.c.user_name == user,
                                                   states.c.pending_grant.is_not(None))).first()
        if row is None:
            return None
        conn.execute(sa.update(states).where(states.c.state == state).values(pending_grant=None))
    cipher = fernet()
    text = cipher.decrypt(row.pending_grant.encode()).decode() if cipher else row.pending_grant
    return Grant(str(row.pending_realm), json.loads(text))


def _install(page: Page, engine: sa.Engine, grant: Grant) -> Response:
    """The grant becomes the company's token chain; the company's settings are staged; the wizard welcomes."""
    hook = QuickBooksHook(company=page.company)
    store = TokenStore.install(engine, grant.realm_id, hook.token_endpoint(), grant.body, cipher=fernet())
    company = _stage_company(hook, store)
    record_connected(engine, grant.realm_id, page.user_name, f"connected from the browser: {company}")
    return page.redirect("/", connected=grant.realm_id)


def _stage_company(hook: QuickBooksHook, store: TokenStore) -> str:
    """The company's name, country and settings, read with the new tokens and staged (what the pages show)."""
    client = QboClient(hook.settings.base_url, store.realm_id, store)
    try:
        pull_preferences(client, store.engine)
        info = client.company_info()
    except ApiError as exc:  # connected all the same: the next catalog sync stages it
        log.warning("QBO company %s connected, but its settings could not be read yet: %s", store.realm_id, exc)
        return f"company {store.realm_id}"
    finally:
        client.close()
    return f"{info.get('CompanyName') or 'company'} ({info.get('Country') or '?'}, realm {store.realm_id})"


# ---------------------------------------------------------------------------------- Atera, and the tests
def atera_refusal(secret: str, host: str | None, conn_id: str) -> str | None:
    """Why Atera refuses ``secret`` (tested against its ``/account``), or None when it answers."""
    base = host or airflow_conns.atera_summary(conn_id).get("host") or airflow_conns.ATERA_DEFAULT_HOST
    client = AteraClient(base, secret, rate_per_minute=None)
    try:
        client.get("/account", entity="Atera account")
    except (ApiError, ConfigError) as exc:
        return f"Atera refused it, nothing was kept: {exc}"
    finally:
        client.close()
    return None


@router.post("/connect/atera")
def atera_credentials(page: ManageIntegration, csrf: Annotated[str, Form()] = "",
                      secret: Annotated[str, Form()] = "", host: Annotated[str, Form()] = "") -> Response:
    """An Atera API token (or legacy key) entered here is tested against Atera, then kept as the password of the
    company's Atera connection (Airflow encrypts it); a refused one is not kept."""
    check_csrf(page.request, page.user, csrf)
    secret, host = secret.strip(), host.strip()
    if not secret:
        return page.refused("Atera", "enter the Atera API token (Atera: Admin → API)", 400)
    conn_id = page.company.atera_conn_id
    refusal = atera_refusal(secret, host or None, conn_id)
    if refusal:
        return page.refused("Atera", refusal, 400)
    try:
        airflow_conns.save_atera(secret, host or None, conn_id)
    except airflow_conns.ShadowedConnection as exc:
        return page.refused("Atera", str(exc), 409)
    return page.redirect("/connect", tested="atera", result="saved")


@router.post("/connect/test")
def try_connection(page: ManageIntegration, engine: Engine, which: Annotated[str, Form()] = "",
                    csrf: Annotated[str, Form()] = "") -> Response:
    """Airflow's "Test connection" of either side of the company (the hooks' ``test_connection``)."""
    check_csrf(page.request, page.user, csrf)
    if which not in ("qbo", "atera"):
        return page.refused("Test", "which must be qbo or atera", 400)
    hook: QuickBooksHook | AteraHook = (QuickBooksHook(company=page.company) if which == "qbo"
                                        else AteraHook(company=page.company))
    with hook:
        ok, message = hook.test_connection()
    outcome = ("ok: " if ok else "refused: ") + message
    return connect_render(page, engine, which, outcome)
