"""Money is ``decimal.Decimal`` from parsing to payload; never float."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import simplejson

CENT = Decimal("0.01")


def to_decimal(value: Any, *, field: str = "amount") -> Decimal | None:
    """Parse an amount (Decimal, int, numeric string; None/'' → None). Floats are refused: they already lost cents."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is not an amount")
    if isinstance(value, float):
        raise TypeError(f"{field}: got a float ({value!r}); parse JSON with parse_float=Decimal")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{field}: {value!r} is not an amount") from exc
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite amount")
    return result


def cents(value: Decimal) -> Decimal:
    """Round half-up to the cent, as invoices do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def loads(text: str | bytes) -> Any:
    """JSON with every non-integer number as Decimal."""
    return simplejson.loads(text, use_decimal=True)


def dumps(obj: Any) -> str:
    """JSON with Decimal written as an exact JSON number (``Decimal('10.50')`` → ``10.50``): simplejson's C
    encoder does this natively (the stdlib's json can only go through float)."""
    return simplejson.dumps(obj, use_decimal=True, separators=(",", ":"), ensure_ascii=False)
