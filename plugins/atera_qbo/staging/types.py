"""Column types of the staging schema that differ per dialect: ``Money`` (exact amounts) and ``Double``."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

MONEY_PRECISION, MONEY_SCALE = 18, 5


class Money(sa.types.TypeDecorator[Decimal]):
    """An exact amount: ``Decimal`` in, ``Decimal`` out, never ``float``.

    - PostgreSQL: ``NUMERIC(18,5)`` (five places: QBO keeps unit prices and rates to 5 decimals).
    - SQLite: ``TEXT`` holding the decimal string (``format(amount, "f")``, e.g. ``'12345678.12345'``).
      SQLite has no decimal type: a ``NUMERIC``/``REAL`` column stores a binary double (``0.1 + 0.2`` is not
      ``0.3``, and anything past 15 significant digits is lost). A scaled ``INTEGER`` would be exact too, but it
      fixes the scale and would force a rewrite of every stored amount when the baseline migration adopts a
      staging DB made by the old ``schema.sql`` — which already holds exactly these strings. TEXT is exact for
      any amount and reads back as it was written.

    Consequence for SQL: on SQLite a Money column compares as text and ``SUM`` goes through float, so the
    package never sums, orders or range-compares money in SQL: it selects the rows and does the arithmetic in
    Python on ``Decimal`` (``NULL`` tests are fine everywhere). Keep it that way in new queries.

    Binding a ``float`` is refused (it would already be inexact); strings are accepted only when they parse as a
    finite decimal.
    """

    impl = sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        amount = to_amount(value)
        if amount is None:
            return None
        return format(amount, "f") if dialect.name == "sqlite" else amount

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None or value == "":
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))

    @property
    def python_type(self) -> type:
        return Decimal


def to_amount(value: Any) -> Decimal | None:
    """A value bound to a Money column → a finite Decimal (None stays None); a float or a non-number is a
    TypeError/ValueError naming the value."""
    if value is None:
        return None
    if isinstance(value, (bool, float)):
        raise TypeError(f"money must be a Decimal, not {type(value).__name__} {value!r}")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, (int, str)):
        try:
            amount = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not an amount") from exc
    else:
        raise TypeError(f"money must be a Decimal, not {type(value).__name__} {value!r}")
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return amount


# DOUBLE PRECISION on PostgreSQL, REAL on SQLite: the token store's epoch seconds (not money).
Double: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")
