"""Money is ``decimal.Decimal`` from parsing to payload; never float."""
from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

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
    return json.loads(text, parse_float=Decimal)


_MARK = "\x00D:"
_MARKED = re.compile(r'"\\u0000D:(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark(o: Any) -> Any:
    if isinstance(o, Decimal):
        return _MARK + format(o, "f")
    if isinstance(o, dict):
        return {k: _mark(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_mark(v) for v in o]
    return o


def dumps(obj: Any) -> str:
    """JSON with Decimal written as an exact JSON number (``Decimal('10.50')`` → ``10.50``)."""
    text = json.dumps(_mark(obj), separators=(",", ":"), ensure_ascii=False)
    return _MARKED.sub(r"\1", text) if "u0000D:" in text else text
