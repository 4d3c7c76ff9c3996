"""The export's ``create_missing_customers``: Atera customers of the selected invoices that have no QBO customer
yet are created in QBO (idempotently, through requestid) and mapped."""
from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ..companies import dag_of
from ..matching.catalogs import load_catalogs
from ..matching.match import match_all
from ..matching.normalize import exact_key
from ..matching.review import Entity
from ..qbo import rules
from ..qbo.api import QboApi
from ..qbo.query import quote, select
from ..staging import mappings
from ..staging.db import table
from .missing import candidate_reasons, exact_matches

Customer = sa.Row[Any]  # an ``stg_atera_customers`` row: source_id, name and the address fields


def create_missing_customers(engine: sa.Engine, qbo: QboApi, date_from: date, date_to: date,
                             numbers: list[str], *, origin: str | None = None,
                             review: pd.DataFrame | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Map the Atera customers of the selected invoices that have no QBO customer yet (export param
    ``create_missing_customers``): to the QBO customer matching matched it to exactly (name, CompanyName or
    contacts), or of the same name, when there is one, else to a new one (idempotent through requestid) — never
    when matching finds a candidate for it (``missing.candidate_reasons``). Answers (Atera id → QBO id, Atera id →
    problem); an Atera customer with a problem stays unmapped, so its invoices are blocked with the reason.
    ``origin`` (e.g. ``export <run id>``) is recorded as the provenance of the customers it creates."""
    problems: dict[str, str] = {}
    missing, exact = _without_candidates(engine, _unmapped(engine, date_from, date_to, numbers), review, problems)
    names = table("stg_qbo_names")
    with engine.connect() as conn:
        taken = {exact_key(n): e for e, n in conn.execute(sa.select(names.c.entity, names.c.display_name))}
    created: dict[str, str] = {}
    for customer in missing:
        source_id = str(customer.source_id)
        if source_id in exact:  # matching identified its QBO customer (CompanyName, contacts): map it
            qbo_id, qbo_name = exact[source_id]
            _map(engine, customer, qbo_id, qbo_name, mappings.Provenance(mappings.Method.EXACT))
            created[source_id] = qbo_id
            continue
        qbo_id, problem = _create_or_reuse(engine, qbo, customer, taken, origin)
        if problem:
            problems[source_id] = problem
        else:
            created[source_id] = qbo_id
    return created, problems


def _unmapped(engine: sa.Engine, date_from: date, date_to: date, numbers: list[str]) -> list[Customer]:
    """The Atera customers of the selected invoices that have no active mapping."""
    inv, mc, ac = table("stg_atera_invoices"), table("map_customers"), \
        table("stg_atera_customers")
    cond = [inv.c.invoice_date >= date_from.isoformat(), inv.c.invoice_date <= date_to.isoformat(),
            inv.c.customer_id.is_not(None)]
    if numbers:
        cond.append(inv.c.source_id.in_(numbers))
    with engine.connect() as conn:
        mapped = sa.select(mc.c.atera_id).where(mc.c.active.is_(True))
        return list(conn.execute(sa.select(ac.c.source_id, ac.c.name, ac.c.address, ac.c.city, ac.c.state,
                                           ac.c.zip_code, ac.c.country, ac.c.phone).where(
            ac.c.source_id.in_(sa.select(inv.c.customer_id).where(*cond)), ac.c.source_id.not_in(mapped))))


def _create_or_reuse(engine: sa.Engine, qbo: QboApi, customer: Customer, taken: dict[str, str],
                     origin: str | None) -> tuple[str, str | None]:
    """(QBO id, None) once the customer is mapped — to QBO's customer of the same name, else to a new one — or
    ("", why it cannot be)."""
    source_id, display = customer.source_id, rules.clean_name(customer.name)
    label = f"Atera customer {source_id} {display!r}"
    refused = rules.name_problems(display, "customer")
    if refused:
        return "", f"{label}: QBO cannot take this name: it {' and '.join(refused)}"
    if exact_key(display) in taken:
        return "", (f"{label}: a QBO {taken[exact_key(display)]} already has this name, and QBO names are unique "
                    f"across customers, vendors and employees: map it in {dag_of('atera_qbo_matching')}")
    existing = qbo.query(select("Customer", f"DisplayName = {quote(display)} AND Active IN (true, false)"),
                         entity=f"QBO customer named {display!r}").get("Customer") or []
    if existing and not existing[0].get("Active", True):
        return "", (f"{label}: QBO has an inactive customer of this name (Id {existing[0]['Id']}): reactivate it "
                    "in QBO, or map another in matching")
    if existing:  # same name already in QBO: use it, never create a twin of it
        obj, how = existing[0], mappings.Provenance(mappings.Method.EXACT)
    else:
        obj = qbo.create("Customer", rules.customer_payload(customer._asdict()),
                         request_id=rules.request_id("create-missing", source_id, display),
                         label=f"create QBO customer for {label}")
        how = mappings.Provenance(mappings.Method.CREATED, origin_plan_id=origin)
    _map(engine, customer, str(obj["Id"]), obj.get("DisplayName", display), how)
    return str(obj["Id"]), None


def _map(engine: sa.Engine, customer: Customer, qbo_id: str, qbo_name: str, how: mappings.Provenance) -> None:
    status = "matched_exact" if how.method == mappings.Method.EXACT else "matched_override"
    mappings.add(engine, "customer", mappings.Mapping(str(customer.source_id), qbo_id, how, customer.name, qbo_name,
                                                      status))


def _without_candidates(engine: sa.Engine, missing: list[Customer], review: pd.DataFrame | None,
                        problems: dict[str, str]) -> tuple[list[Customer], dict[str, tuple[str, str]]]:
    """A customer matching finds a QBO candidate for is never created (that is how duplicates are born): it goes
    to ``problems`` with the candidate named. Answers the rest, and the QBO customer matching matched each one to
    exactly (Atera id → (QBO id, name))."""
    if not missing:
        return missing, {}
    review = match_all(load_catalogs(engine)) if review is None else review
    problems.update(candidate_reasons(review, Entity.CUSTOMER, [str(c.source_id) for c in missing]))
    return [c for c in missing if str(c.source_id) not in problems], exact_matches(review, Entity.CUSTOMER)
