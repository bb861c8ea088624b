"""Runtime values shared by both engines: missing facts, failures, and the built-in functions."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from typing import Any

CENT = Decimal("0.01")

MAX_DIGITS = 18
"""A number has at most 18 digits before its decimal point: in a case, a table, a rule, and as a result."""
MAX_FRACTION_DIGITS = 28
"""A number in a case or a table has at most 28 digits after its decimal point."""
NUMBER_LIMIT = 10**MAX_DIGITS
_DECIMAL_LIMIT = Decimal(NUMBER_LIMIT)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
PLAIN_INTEGER = re.compile(r"[+-]?[0-9]+")
OUT_OF_RANGE = f"the result is out of range: more than {MAX_DIGITS} digits before the decimal point"
"""The reason of a value whose computed number is out of range (the same in every engine)."""


class OutOfRange(ArithmeticError):
    """A computation left the values passendezorg represents: a date before 0001-01-01 or after 9999-12-31."""


def in_range(value: Any) -> bool:
    """Is a computed number within the bounds of its type (``MAX_DIGITS`` digits before the point)?"""
    if isinstance(value, int):
        return bool(-NUMBER_LIMIT < value < NUMBER_LIMIT)
    if isinstance(value, Decimal):
        return bool(value.is_finite() and -_DECIMAL_LIMIT < value < _DECIMAL_LIMIT)
    return True


def all_in_range(values: list[Any]) -> bool:
    """Is every number in a (nested) list within the bounds?"""
    return all(all_in_range(v) if isinstance(v, list) else in_range(v) for v in values)


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> dt.date:
    """A date written YYYY-MM-DD, and only so (Python also reads 20240101 and week dates); ValueError if not."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"not a date written YYYY-MM-DD: {text[:40]!r}")
    return dt.date.fromisoformat(text)


def parse_number(text: str, kind: str) -> int | Decimal:
    """A number written in plain decimal digits, with an optional sign and decimal point, within the bounds.

    ``kind`` is integer, decimal or money. ValueError says what is wrong: not
    plain digits (``1_000``, ``1e5``, Arabic-Indic digits), too many digits.
    """
    t = text.strip()
    if kind == "integer":
        if not PLAIN_INTEGER.fullmatch(t):
            raise ValueError("expected a whole number in plain digits, like 12")
        digits = len(t.lstrip("+-").lstrip("0"))
        if digits > MAX_DIGITS:
            raise ValueError(f"the number is out of range: more than {MAX_DIGITS} digits")
        return int(t)
    if not _PLAIN_NUMBER.fullmatch(t):
        raise ValueError("expected an amount like 12.34" if kind == "money" else "expected a number in plain digits, like 12.34")
    whole, _, fraction = t.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > MAX_DIGITS:
        raise ValueError(f"the number is out of range: more than {MAX_DIGITS} digits before the decimal point")
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise ValueError(f"the number has more than {MAX_FRACTION_DIGITS} digits after the decimal point")
    return Decimal(t)


def bounded_decimal(value: Decimal) -> Decimal:
    """A decimal (from a float or another program) within the bounds; ValueError if it is not."""
    if not value.is_finite():
        raise ValueError("the number is not finite")
    if not -_DECIMAL_LIMIT < value < _DECIMAL_LIMIT:
        raise ValueError(f"the number is out of range: more than {MAX_DIGITS} digits before the decimal point")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_FRACTION_DIGITS:
        raise ValueError(f"the number has more than {MAX_FRACTION_DIGITS} digits after the decimal point")
    return value


class Unknown:
    """A value that cannot be known yet: ``needs`` are the inputs that would decide it."""

    __slots__ = ("needs",)

    def __init__(self, needs: frozenset[str]) -> None:
        self.needs = needs

    def __repr__(self) -> str:
        return f"Unknown({sorted(self.needs)})"


class Fail:
    """A value that cannot be computed: no value in force, a conflict upstream, division by zero."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Fail({self.reason!r})"


def age(born: dt.date, on: dt.date) -> int:
    """Whole years of age on a day (a birthday counts from the day itself)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_duration(day: dt.date, amount: int, unit: str) -> dt.date:
    """``day`` plus a number of days, months or years; OutOfRange beyond 0001-01-01 … 9999-12-31."""
    if unit == "days":
        try:
            return day + dt.timedelta(days=amount)
        except OverflowError:
            raise _past(amount) from None
    months = amount * (12 if unit == "years" else 1)
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise _past(amount)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def _past(amount: int) -> OutOfRange:
    return OutOfRange("no date after 9999-12-31" if amount > 0 else "no date before 0001-01-01")


def quantize(value: Decimal, exp: Decimal, rounding: str) -> Decimal:
    """Round to ``exp`` exactly, however many digits the amount has (the default context stops at 28)."""
    digits = max(28, value.adjusted() + 4) if value.is_finite() else 28
    return value.quantize(exp, rounding=rounding, context=Context(prec=digits))


def round_money(value: Decimal) -> Decimal:
    return quantize(value, CENT, ROUND_HALF_UP)


def round_value(value: Any, kind: str, down: bool) -> Any:
    mode = ROUND_FLOOR if down else ROUND_HALF_UP
    if kind == "money":
        return quantize(Decimal(value), CENT, mode)
    return int(quantize(Decimal(value), Decimal(1), mode))


def store(value: Any, kind: str) -> Any:
    """Normalise a computed value to its declared type (money to cents, integers to Decimal for decimals).

    A number out of range (``MAX_DIGITS`` digits before the point) is a Fail:
    the value cannot be computed, in every engine alike.
    """
    if kind in ("integer", "decimal", "money") and not in_range(value):
        return Fail(OUT_OF_RANGE)
    if kind == "list" and isinstance(value, list) and not all_in_range(value):
        return Fail(OUT_OF_RANGE)
    if kind == "money" and isinstance(value, Decimal):
        return quantize(value, CENT, ROUND_HALF_UP)
    if kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def to_json(value: Any) -> Any:
    """The JSON form of a value: amounts and decimals as strings (exact), dates as ISO text."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # plain digits: 100, never 1.0E+2
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [to_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)
