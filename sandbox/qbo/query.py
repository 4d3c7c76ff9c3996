"""QBO's query language: tokenizer, parser and evaluator (no HTTP here).

    SELECT * | COUNT(*) | *, Field... FROM Entity
      [WHERE cond AND cond ...]
            cond: Field (= | < | > | <= | >=) value | Field IN (v, ...) | Field LIKE '%x%'
      [ORDER BY | ORDERBY Field [ASC|DESC], ...]
      [STARTPOSITION n] [MAXRESULTS n]

- Keywords, entity and property names are case-insensitive (clients write both ``MetaData`` and ``Metadata``).
- Strings are single-quoted; a backslash escapes the next character (``'O\\'Brien'``).
- No OR, NOT, ``!=``, parentheses around conditions, GROUP BY or JOIN: each is a 4000 parse error.
- Only filterable properties may appear in WHERE/ORDER BY (4001 otherwise), with the operators their type allows.
- String comparisons are case-insensitive. Undocumented; chosen to match the case-insensitive uniqueness of names.
- STARTPOSITION is 1-based (0 is treated as 1); MAXRESULTS defaults to 100 and may not exceed 1000. Above 1000
  is uncertain (error or cap): the twin answers 4001, the stricter choice.
- List entities return active records only unless the query filters on ``Active``.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .exceptions import QueryParserError, QueryValidationError
from .times import parse_time

Row = dict[str, Any]  # a stored record, as the query reads it

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000

_META = {"MetaData.CreateTime": "datetime", "MetaData.LastUpdatedTime": "datetime"}
# Filterable properties and their types, per entity.
SCHEMAS: dict[str, dict[str, str]] = {
    "Customer": {"Id": "id", "DisplayName": "str", "GivenName": "str", "MiddleName": "str", "FamilyName": "str",
                 "CompanyName": "str", "FullyQualifiedName": "str", "PrintOnCheckName": "str",
                 "PrimaryEmailAddr": "str", "Active": "bool", "Balance": "num", "BalanceWithJobs": "num",
                 "Job": "bool", "ParentRef": "ref", "CurrencyRef": "ref", **_META},
    "Vendor": {"Id": "id", "DisplayName": "str", "GivenName": "str", "MiddleName": "str", "FamilyName": "str",
               "CompanyName": "str", "PrintOnCheckName": "str", "PrimaryEmailAddr": "str", "Active": "bool",
               "Balance": "num", **_META},
    "Employee": {"Id": "id", "DisplayName": "str", "GivenName": "str", "MiddleName": "str", "FamilyName": "str",
                 "PrintOnCheckName": "str", "PrimaryEmailAddr": "str", "Active": "bool", **_META},
    "Item": {"Id": "id", "Name": "str", "Active": "bool", "Type": "str", "Sku": "str", "FullyQualifiedName": "str",
             "ParentRef": "ref", **_META},
    "Account": {"Id": "id", "Name": "str", "AccountType": "str", "AccountSubType": "str", "Classification": "str",
                "Active": "bool", "FullyQualifiedName": "str", "CurrentBalance": "num", "AcctNum": "str", **_META},
    "TaxCode": {"Id": "id", "Name": "str", "Active": "bool", "Taxable": "bool", **_META},
    "TaxRate": {"Id": "id", "Name": "str", "Active": "bool", **_META},
    "Term": {"Id": "id", "Name": "str", "Active": "bool", **_META},
    "Invoice": {"Id": "id", "DocNumber": "str", "TxnDate": "date", "DueDate": "date", "CustomerRef": "ref",
                "TotalAmt": "num", "Balance": "num", "CurrencyRef": "ref", **_META},
    "CreditMemo": {"Id": "id", "DocNumber": "str", "TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "num",
                   "Balance": "num", **_META},
    "Payment": {"Id": "id", "TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "num", **_META},
    "CompanyInfo": {"Id": "id", **_META},
    "Preferences": {"Id": "id", **_META},
}
ACTIVE_FILTERED = {"Customer", "Vendor", "Employee", "Item", "Account", "TaxCode", "TaxRate", "Term"}
_ENTITY_BY_LOWER = {name.lower(): name for name in SCHEMAS}
_OPS_BY_TYPE = {"str": {"=", "<", ">", "<=", ">=", "IN", "LIKE"}, "id": {"=", "<", ">", "<=", ">=", "IN"},
                "ref": {"=", "IN", "LIKE"}, "bool": {"=", "IN"}, "num": {"=", "<", ">", "<=", ">=", "IN"},
                "date": {"=", "<", ">", "<=", ">=", "IN"}, "datetime": {"=", "<", ">", "<=", ">=", "IN"}}
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "IN", "LIKE", "ORDER", "BY", "ORDERBY", "ASC", "DESC",
             "STARTPOSITION", "MAXRESULTS", "COUNT", "OR", "NOT", "TRUE", "FALSE", "GROUP", "JOIN", "IS", "NULL"}


@dataclass
class Token:
    kind: str  # word, string, number, op, punct, end
    text: str
    col: int
    value: Any = None


_TOKEN_RE = re.compile(r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)(?![A-Za-z_])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"
                       r"|(?P<op><=|>=|!=|<>|=|<|>)|(?P<punct>[(),*])|(?P<quote>')|(?P<other>\S))")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while True:
        m = _TOKEN_RE.match(text, pos)
        if not m or (m.end() == pos and not m.group(0)):
            break
        if m.lastgroup is None:
            break
        col = m.start(m.lastgroup) + 1
        kind = m.lastgroup
        if kind == "quote":
            i = m.end()
            chars: list[str] = []
            while True:
                if i >= len(text):
                    raise QueryParserError(f"Lexical error at line 1, column {len(text) + 1}.  Encountered: <EOF> "
                                           f"after : \"'{''.join(chars)}\"")
                ch = text[i]
                if ch == "\\" and i + 1 < len(text):
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if ch == "'":
                    i += 1
                    break
                chars.append(ch)
                i += 1
            tokens.append(Token("string", text[m.start(kind):i], col, "".join(chars)))
            pos = i
            continue
        if kind == "other":
            raise QueryParserError(f"Lexical error at line 1, column {col}.  Encountered: \"{m.group(kind)}\"")
        tokens.append(Token(kind, m.group(kind), col))
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        raise QueryParserError(f"Lexical error at line 1, column {pos + 1}.  Encountered: \"{rest[0]}\"")
    tokens.append(Token("end", "<EOF>", len(text) + 1))
    return tokens


@dataclass
class Condition:
    field: str
    kind: str
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool = False
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, str, bool]] = field(default_factory=list)  # (field, type, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS

    @property
    def filters_active(self) -> bool:
        return any(c.field == "Active" for c in self.conditions)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, expected: str) -> QueryParserError:
        tok = self.tok
        shown = tok.text if tok.kind != "end" else "<EOF>"
        return QueryParserError(f"Encountered \" \"{shown}\" \"{shown.upper()} \"\" at line 1, column {tok.col}.\n"
                                f"Was expecting:\n    {expected} ...")

    def word(self, *choices: str) -> bool:
        tok = self.tok
        return tok.kind == "word" and tok.text.upper() in choices

    def expect_word(self, *choices: str) -> str:
        if not self.word(*choices):
            raise self.fail(" | ".join(f'"{c}"' for c in choices))
        text = self.tok.text.upper()
        self.i += 1
        return text

    def expect_punct(self, char: str) -> None:
        if not (self.tok.kind == "punct" and self.tok.text == char):
            raise self.fail(f'"{char}"')
        self.i += 1

    def parse(self) -> Query:
        self.expect_word("SELECT")
        count = False
        if self.word("COUNT"):
            self.i += 1
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            self._projection()
        self.expect_word("FROM")
        query = Query(self._entity(), count=count)
        schema = SCHEMAS[query.entity]
        if self.word("WHERE"):
            self._where(query, schema)
        if self.word("ORDERBY", "ORDER"):
            self._order_by(query, schema)
        self._paging(query)
        if self.tok.kind != "end":
            raise self.fail("<EOF>")
        return query

    def _entity(self) -> str:
        if self.tok.kind != "word" or self.tok.text.upper() in _KEYWORDS:
            raise self.fail("<IDENTIFIER>")
        entity_text = self.tok.text
        entity = _ENTITY_BY_LOWER.get(entity_text.lower())
        if entity is None:
            raise QueryValidationError(f"QueryValidationError: Invalid context declaration : {entity_text}")
        self.i += 1
        return entity

    def _where(self, query: Query, schema: dict[str, str]) -> None:
        """``WHERE cond AND cond ...`` (the keyword is the current token)."""
        self.i += 1
        query.conditions.append(self._condition(schema, query.entity))
        while self.word("AND"):
            self.i += 1
            query.conditions.append(self._condition(schema, query.entity))

    def _order_by(self, query: Query, schema: dict[str, str]) -> None:
        """``ORDER BY`` / ``ORDERBY Field [ASC|DESC], ...`` (the keyword is the current token)."""
        if self.expect_word("ORDERBY", "ORDER") == "ORDER":
            self.expect_word("BY")
        while True:
            name, kind = self._field(schema, query.entity)
            descending = False
            if self.word("ASC", "DESC"):
                descending = self.expect_word("ASC", "DESC") == "DESC"
            query.order.append((name, kind, descending))
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                continue
            break

    def _paging(self, query: Query) -> None:
        """``STARTPOSITION n`` and ``MAXRESULTS n``, each at most once, in either order."""
        seen: set[str] = set()
        while self.word("STARTPOSITION", "MAXRESULTS"):
            which = self.expect_word("STARTPOSITION", "MAXRESULTS")
            if which in seen:
                raise self.fail('<EOF>')
            seen.add(which)
            if self.tok.kind != "number" or "." in self.tok.text or self.tok.text.startswith("-"):
                raise self.fail("<INTEGER>")
            value = int(self.tok.text)
            self.i += 1
            if which == "STARTPOSITION":
                query.start = max(value, 1)  # 0 is treated as 1
            else:
                if value > MAX_RESULTS_LIMIT:
                    raise QueryValidationError(f"QueryValidationError: value {value} for MAXRESULTS exceeds the "
                                               f"maximum of {MAX_RESULTS_LIMIT}")
                if value < 1:
                    raise QueryValidationError("QueryValidationError: MAXRESULTS must be at least 1")
                query.max_results = value

    def _projection(self) -> None:
        # No projections: QBO returns every property; ``SELECT *, Sku`` (python-quickbooks) is accepted.
        while True:
            if (self.tok.kind == "punct" and self.tok.text == "*") or \
                    (self.tok.kind == "word" and self.tok.text.upper() not in _KEYWORDS):
                self.i += 1
            else:
                raise self.fail('"*"')
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                continue
            return

    def _field(self, schema: dict[str, str], entity: str) -> tuple[str, str]:
        tok = self.tok
        if tok.kind != "word" or tok.text.upper() in _KEYWORDS:
            raise self.fail("<IDENTIFIER>")
        self.i += 1
        name = tok.text
        lowered = {k.lower(): k for k in schema}
        text = name.lower()
        if text.endswith(".value") and text[:-6] in lowered and schema[lowered[text[:-6]]] == "ref":
            text = text[:-6]
        if text not in lowered:
            raise QueryValidationError(f"QueryValidationError: property '{name}' is not queryable")
        canonical = lowered[text]
        return canonical, schema[canonical]

    def _value(self, kind: str, name: str) -> Any:
        tok = self.tok
        self.i += 1
        if tok.kind == "string":
            raw: Any = tok.value
        elif tok.kind == "number":
            raw = Decimal(tok.text)
        elif tok.kind == "word" and tok.text.upper() in ("TRUE", "FALSE"):
            raw = tok.text.upper() == "TRUE"
        else:
            self.i -= 1
            raise self.fail("<STRING> | <NUMBER> | \"true\" | \"false\"")
        return _coerce(raw, kind, name)

    def _condition(self, schema: dict[str, str], entity: str) -> Condition:
        if self.tok.kind == "punct" and self.tok.text == "(":
            raise self.fail("<IDENTIFIER>")
        name, kind = self._field(schema, entity)
        tok = self.tok
        if tok.kind == "op":
            op = tok.text
            if op in ("!=", "<>"):
                raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "IN" | "LIKE"')
            self.i += 1
            values = [self._value(kind, name)]
        elif self.word("IN"):
            op = "IN"
            self.i += 1
            self.expect_punct("(")
            values = [self._value(kind, name)]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                values.append(self._value(kind, name))
            self.expect_punct(")")
        elif self.word("LIKE"):
            op = "LIKE"
            self.i += 1
            if self.tok.kind != "string":
                raise self.fail("<STRING>")
            values = [self.tok.value]
            self.i += 1
        else:
            raise self.fail('"=" | "<" | ">" | "<=" | ">=" | "IN" | "LIKE"')
        if op not in _OPS_BY_TYPE[kind]:
            raise QueryValidationError(f"QueryValidationError: operator {op} is not supported for property "
                                       f"'{name}'")
        if self.word("OR"):
            raise self.fail('"AND" | "ORDERBY" | "ORDER" | "STARTPOSITION" | "MAXRESULTS" | <EOF>')
        return Condition(name, kind, op, values)


def _coerce(raw: Any, kind: str, name: str) -> Any:
    def bad() -> QueryValidationError:
        return QueryValidationError(f"QueryValidationError: value {raw!r} is not valid for property '{name}'")

    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise bad()
    if isinstance(raw, bool):
        raise bad()
    if kind == "num":
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            raise bad() from None
    if kind == "id":
        return str(raw)
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(raw)[:10]).isoformat()
        except ValueError:
            raise bad() from None
    if kind == "datetime":
        try:
            return parse_time(str(raw))
        except ValueError:
            raise bad() from None
    return str(raw)


def parse(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise QueryParserError("Encountered \"<EOF>\" at line 1, column 1.\nWas expecting:\n    \"SELECT\" ...")
    return _Parser(text).parse()


# -- evaluation -----------------------------------------------------------------------------------------------
def _getter(name: str, kind: str) -> Callable[[Row], Any]:
    if "." in name:
        head, tail = name.split(".", 1)
        return lambda r: (r.get(head) or {}).get(tail)
    if kind == "ref":
        return lambda r: (r.get(name) or {}).get("value")
    if name == "PrimaryEmailAddr":
        return lambda r: (r.get(name) or {}).get("Address")
    return lambda r: r.get(name)


def _normalizer(kind: str) -> Callable[[Any], Any]:
    if kind in ("str", "ref"):
        return lambda v: v.casefold() if isinstance(v, str) else v
    if kind == "id":
        return lambda v: (0, int(v), "") if isinstance(v, str) and v.isdigit() else (1, 0, str(v).casefold())
    if kind == "num":
        return lambda v: Decimal(str(v)) if v is not None else None
    if kind == "datetime":
        return lambda v: parse_time(v) if isinstance(v, str) else v
    return lambda v: v


def _predicate(cond: Condition) -> Callable[[Row], bool]:
    get = _getter(cond.field, cond.kind)
    norm = _normalizer(cond.kind)
    if cond.kind == "bool" and cond.field == "Active":
        get = lambda r: r.get("Active", True)  # noqa: E731 - records without Active are active
    if cond.op == "LIKE":
        pattern = "".join(".*" if part == "%" else re.escape(part) for part in re.split(r"(%)", cond.values[0]))
        regex = re.compile(f"^{pattern}$", re.IGNORECASE | re.DOTALL)
        return lambda r: isinstance(get(r), str) and regex.match(get(r)) is not None
    targets = [norm(v) for v in cond.values]
    if cond.op in ("=", "IN"):
        wanted = set(targets) if all(_hashable(t) for t in targets) else targets
        def eq(r: Row) -> bool:
            value = get(r)
            return value is not None and norm(value) in wanted
        return eq
    target = targets[0]
    compare: Callable[[Any, Any], bool] = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
               ">=": lambda a, b: a >= b}[cond.op]

    def cmp(r: Row) -> bool:
        value = get(r)
        if value is None:
            return False
        try:
            return compare(norm(value), target)
        except TypeError:
            return False
    return cmp


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def execute(query: Query, records: Iterable[Row]) -> tuple[list[Row], int]:
    """The page of ``records`` the query selects, and the number of matches (the total for COUNT)."""
    predicates = [_predicate(c) for c in query.conditions]
    if query.entity in ACTIVE_FILTERED and not query.filters_active:
        predicates.insert(0, lambda r: r.get("Active", True) is True)
    matches = [r for r in records if all(p(r) for p in predicates)] if predicates else list(records)
    if query.count:
        return [], len(matches)
    order = list(query.order)
    if order and order[-1][:3] == ("Id", "id", False) and len(order) == 1:
        # Records come in Id order (the store keeps insertion order and ids only grow): sorting again is a no-op
        # that costs ~n log n Python key calls per page over a large realm.
        order = []
    for name, kind, descending in reversed(order):
        get = _getter(name, kind)
        norm = _normalizer(kind)
        present = [r for r in matches if get(r) is not None]
        missing = [r for r in matches if get(r) is None]
        present.sort(key=lambda r: norm(get(r)), reverse=descending)
        matches = present + missing
    start = query.start - 1
    return matches[start:start + query.max_results], len(matches)
