"""The export's ``create_missing_customers``: Atera customers of the selected invoices that have no QBO customer
yet are created in QBO (idempotently, through requestid) and mapped."""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from ..matching.normalize import exact_key
from ..qbo import rules
from ..qbo.query import quote, select
from ..staging import mappings
from ..staging.db import table


def create_missing_customers(engine: sa.Engine, qbo: Any, date_from: date, date_to: date,
                             numbers: list[str], *, origin: str | None = None,
                             review: Any = None) -> tuple[dict[str, str], dict[str, str]]:
    """Map the Atera customers of the selected invoices that have no QBO customer yet (export param
    ``create_missing_customers``): to the QBO customer matching matched it to exactly (name, CompanyName or contacts),
    or of the same name, when there is one, else to a new one
    (idempotent through requestid) — never when matching finds a candidate for it (``missing.candidate_reasons``). Answers (Atera id → QBO id, Atera id → problem); an Atera customer with a
    problem stays unmapped, so its invoices are blocked with the reason. ``origin`` (e.g. ``export <run id>``) is
    recorded as the provenance of the customers it creates."""
    problems: dict[str, str] = {}
    inv, mc, ac = table(engine, "stg_atera_invoices"), table(engine, "map_customers"), \
        table(engine, "stg_atera_customers")
    cond = [inv.c.invoice_date >= date_from.isoformat(), inv.c.invoice_date <= date_to.isoformat(),
            inv.c.customer_id.is_not(None)]
    if numbers:
        cond.append(inv.c.source_id.in_(numbers))
    with engine.connect() as conn:
        mapped = sa.select(mc.c.atera_id).where(mc.c.active.is_(True))
        missing = conn.execute(sa.select(ac.c.source_id, ac.c.name, ac.c.address, ac.c.city, ac.c.state,
                                         ac.c.zip_code, ac.c.country, ac.c.phone).where(
            ac.c.source_id.in_(sa.select(inv.c.customer_id).where(*cond)), ac.c.source_id.not_in(mapped))).all()
    created: dict[str, str] = {}
    missing, exact = _without_candidates(engine, missing, review, problems)
    names = table(engine, "stg_qbo_names")
    with engine.connect() as conn:
        taken = {exact_key(n): e for e, n in conn.execute(sa.select(names.c.entity, names.c.display_name))}
    for customer in missing:
        source_id, name = customer.source_id, customer.name
        display = rules.clean_name(name)
        label = f"Atera customer {source_id} {display!r}"
        if str(source_id) in exact:  # matching identified its QBO customer (CompanyName, contacts): map it
            qbo_id, qbo_name = exact[str(source_id)]
            created[str(source_id)] = qbo_id
            mappings.add(engine, "customer", mappings.Mapping(str(source_id), qbo_id, mappings.Provenance(
                mappings.Method.EXACT), name, qbo_name, "matched_exact"))
            continue
        refused = rules.name_problems(display, "customer")
        if refused:
            problems[str(source_id)] = f"{label}: QBO cannot take this name: it {' and '.join(refused)}"
            continue
        if exact_key(display) in taken:
            problems[str(source_id)] = (f"{label}: a QBO {taken[exact_key(display)]} already has this name, and "
                                        "QBO names are unique across customers, vendors and employees: map it "
                                        "in atera_qbo_matching")
            continue
        existing = qbo.query(select("Customer", f"DisplayName = {quote(display)} AND Active IN (true, false)"),
                             entity=f"QBO customer named {display!r}").get("Customer") or []
        if existing and not existing[0].get("Active", True):
            problems[str(source_id)] = (f"{label}: QBO has an inactive customer of this name (Id "
                                        f"{existing[0]['Id']}): reactivate it in QBO, or map another in matching")
            continue
        if existing:  # same name already in QBO: use it, never create a twin of it
            obj, how = existing[0], mappings.Provenance(mappings.Method.EXACT)
        else:
            obj = qbo.create("Customer", rules.customer_payload(customer._mapping),
                             request_id=rules.request_id("create-missing", source_id, display),
                             label=f"create QBO customer for {label}")
            how = mappings.Provenance(mappings.Method.CREATED, origin_plan_id=origin)
        created[str(source_id)] = str(obj["Id"])
        status = "matched_exact" if how.method == mappings.Method.EXACT else "matched_override"
        mappings.add(engine, "customer", mappings.Mapping(str(source_id), str(obj["Id"]), how, name,
                                                          obj.get("DisplayName", display), status))
    return created, problems


def _without_candidates(engine: sa.Engine, missing: list[Any], review: Any,
                        problems: dict[str, str]) -> tuple[list[Any], dict[str, tuple[str, str]]]:
    """A customer matching finds a QBO candidate for is never created (that is how duplicates are born): it goes
    to ``problems`` with the candidate named. Answers the rest, and the QBO customer matching matched each one to
    exactly (Atera id → (QBO id, name))."""
    if not missing:
        return missing, {}
    from ..matching.catalogs import load_catalogs
    from ..matching.match import match_all
    from ..matching.review import Entity
    from .missing import candidate_reasons, exact_matches

    review = match_all(load_catalogs(engine)) if review is None else review
    problems.update(candidate_reasons(review, Entity.CUSTOMER, [str(c.source_id) for c in missing]))
    return [c for c in missing if str(c.source_id) not in problems], exact_matches(review, Entity.CUSTOMER)
