"""Customers identified by their contact details where their names differ only in form.

A name written two ways ("Acme Inc" / "ACME, Inc.", "Riverside Medical Center" / "Riverside Medical Ctr") is not
an exact key; but an MSP's customer and the bookkeeper's customer of the same company carry the same web domain
and phone number. An Atera customer that no name key matched (suggestions are made first) is matched to a QBO
customer when all of these hold:

- they share an identifying contact: the web domain (Atera ``Domain``, else the one company domain its contacts'
  e-mail addresses share; QBO ``WebAddr`` host or the domain of ``PrimaryEmailAddr``; ``www.`` and case ignored)
  or the phone number (its digits, a leading US country code 1 dropped, at least 7 digits);
- that contact belongs to exactly one Atera customer and to exactly one active, non-job QBO customer, which no
  exact match has taken (a public mail domain such as gmail.com never identifies anybody);
- domain and phone do not point at different QBO customers;
- the names still resemble each other: their suggestion score is at least ``SUGGEST_MIN_SCORE`` — a shared phone
  alone never pairs "Apex Dental" with "Harbor View Realty".

Such a row is ``matched_exact`` with a note naming the contact and the score. "Apex Dental" between QBO's "Apex
Dental Group" and "Apex Dental Care" (same score) is decided by the domain they share; without any shared contact
it stays a suggestion for finance.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .exact import qbo_names
from .normalize import suggest_key
from .review import MatchStatus, set_cells
from .suggest import SUGGEST_MIN_SCORE, pair_scores

# Mail providers whose domain is shared by unrelated customers: never a company's identity.
PUBLIC_MAIL = frozenset({
    "aol.com", "att.net", "btinternet.com", "comcast.net", "fastmail.com", "gmail.com", "gmx.com", "gmx.de",
    "googlemail.com", "hotmail.co.uk", "hotmail.com", "icloud.com", "live.com", "mac.com", "mail.com", "me.com",
    "msn.com", "outlook.com", "proton.me", "protonmail.com", "rogers.com", "shaw.ca", "sympatico.ca", "verizon.net",
    "web.de", "yahoo.ca", "yahoo.co.uk", "yahoo.com", "yandex.com", "zoho.com",
})
MIN_PHONE_DIGITS = 7
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def domain_key(value: object) -> str:
    """The host of a domain, URL or e-mail address, lower-case without ``www.``; "" for none or a public one."""
    if not isinstance(value, str):
        return ""
    text = value.strip().lower()
    text = text.rpartition("@")[2] if "@" in text else _SCHEME.sub("", text)
    host = re.split(r"[/:?#]", text, maxsplit=1)[0].strip(".")
    host = host[4:] if host.startswith("www.") else host
    return "" if "." not in host or host in PUBLIC_MAIL else host


def phone_key(value: object) -> str:
    """The digits of a phone number, a leading US/Canada country code dropped; "" when too short to identify."""
    if not isinstance(value, str):
        return ""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def contact_domains(contacts: pd.DataFrame) -> pd.Series:
    """Atera customer id → the company domain its contacts' e-mail addresses share, for customers whose contacts
    (public mail providers aside) name exactly one domain: Atera's ``Domain`` field is often left empty, the
    contacts' addresses rarely are."""
    domains = pd.DataFrame({"customer_id": contacts["customer_id"].astype(str),
                            "domain": contacts["email"].map(domain_key)})
    domains = domains[domains["domain"] != ""].drop_duplicates()
    single = domains["customer_id"].map(domains["customer_id"].value_counts()) == 1
    return domains[single.to_numpy()].set_index("customer_id")["domain"]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _unique(keys: pd.Series, ids: pd.Series) -> pd.Series:
    """key → the one id holding it (keys held by several ids dropped)."""
    pairs = pd.DataFrame({"key": keys.to_numpy(), "id": ids.to_numpy()})
    pairs = pairs[pairs["key"] != ""].drop_duplicates()
    counts = pairs["key"].value_counts()
    return pairs[pairs["key"].map(counts).eq(1).to_numpy()].set_index("key")["id"]


def _qbo_keys(qbo: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(domain keys, phone keys, ids) of the active non-job QBO customers; a record's domain is its web address's
    host (the company's own), else its e-mail's domain."""
    jobs = _column(qbo, "is_job").fillna(False).astype(bool)
    live = qbo[qbo["active"].astype(bool).to_numpy() & ~jobs.to_numpy()]
    web = _column(live, "web_addr").map(domain_key)
    mail = _column(live, "email").map(domain_key)
    domains = web.where(web != "", mail)
    return domains, _column(live, "phone").map(phone_key), live["qbo_id"].astype(str)


def contact_matches(rows: pd.DataFrame, atera: pd.DataFrame, qbo: pd.DataFrame, taken: set[str]) -> None:
    """Promote the ``unmatched`` and ``suggested`` customer rows of a review table that their contacts identify
    (rule above), in place; a promoted row keeps its ``candidates`` (what else its name resembles, so that none of
    them is offered for import unseen). ``atera`` is the frame the rows were made from, in the same order."""
    todo = rows["status"].isin([MatchStatus.UNMATCHED, MatchStatus.SUGGESTED]).to_numpy()
    if not todo.any() or qbo.empty:
        return
    a_ids = atera["atera_id"].astype(str)
    own_domain = _column(atera, "domain").map(domain_key)
    a_domain = own_domain.where(own_domain != "", _column(atera, "contact_domain").astype(object).fillna(""))
    a_phone = _column(atera, "phone").map(phone_key)
    q_domain, q_phone, q_ids = _qbo_keys(qbo)
    by_domain = a_domain.map(_unique(q_domain, q_ids)).where(a_domain.map(_unique(a_domain, a_ids)).eq(a_ids))
    by_phone = a_phone.map(_unique(q_phone, q_ids)).where(a_phone.map(_unique(a_phone, a_ids)).eq(a_ids))
    pick = by_domain.fillna(by_phone)
    agree = by_domain.isna() | by_phone.isna() | by_domain.eq(by_phone)
    ok = (todo & pick.notna().to_numpy() & agree.to_numpy() & ~pick.isin(taken).to_numpy()
          & ~pick.duplicated(keep=False).to_numpy())
    at = np.flatnonzero(ok)
    if not len(at):
        return
    names = qbo_names(qbo)
    chosen = pick.iloc[at].astype(str)
    q_names = chosen.map(names).fillna("").astype(str)
    scores = pair_scores([suggest_key(n) for n in rows["atera_name"].iloc[at].tolist()],
                         [suggest_key(n) for n in q_names.tolist()])
    alike = scores >= SUGGEST_MIN_SCORE
    at, chosen, q_names, scores = at[alike], chosen[alike], q_names[alike], scores[alike]
    both = by_domain.iloc[at].notna().to_numpy() & by_phone.iloc[at].notna().to_numpy()
    domain = "domain " + a_domain.iloc[at].to_numpy(object) + np.where(
        own_domain.iloc[at].to_numpy(object) == "", " (its contacts' e-mail)", "").astype(object)
    label = np.where(both, domain + " and phone",
                     np.where(by_domain.iloc[at].notna().to_numpy(), domain, "phone number"))
    score_text = np.round(scores).astype(int).astype(str)
    notes = ("matched on the shared " + pd.Series(label, dtype=object) + " (the names differ: score "
             + score_text.astype(object) + ")").to_numpy(object)
    for column, values in (("status", MatchStatus.MATCHED_EXACT.value), ("qbo_id", chosen.to_numpy(object)),
                           ("qbo_name", q_names.to_numpy(object)), ("score", score_text.astype(object)),
                           ("note", notes)):
        set_cells(rows, at, column, values)
