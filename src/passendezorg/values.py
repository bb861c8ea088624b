"""Runtime values shared by every engine: missing facts, failures, amounts, rounding, and the built-in functions."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    InvalidOperation,
)
from typing import Any

CENT = Decimal("0.01")
EURO = Decimal(1)

ROUNDING_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_FLOOR,
    "up": ROUND_CEILING,
    "towards_zero": ROUND_DOWN,
}
"""How a rule may say an amount or a number is rounded: the mode as the checked rule book names it -> Decimal's.

``half_up`` is the Dutch *rekenkundig afronden* (a half away from zero), ``down`` and ``up`` go to
the lower and the higher neighbour (also for negative amounts), ``towards_zero`` drops the digits."""

ROUNDING_UNITS = {"cents": CENT, "euros": EURO}
"""What an amount may be rounded to: cents or whole euros."""

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
    """An amount to the cent, half up: how a money output is rounded when it is decided."""
    return quantize(value, CENT, ROUND_HALF_UP)


def round_value(value: Any, kind: str, down: bool, unit: str | None = None, mode: str | None = None) -> Any:
    """``round``/``round_down`` of an amount (``kind`` money: to cents or whole euros) or a number (to an integer).

    ``mode`` (one of ROUNDING_MODES) overrides the mode the function name implies."""
    rounding = ROUNDING_MODES[mode or ("down" if down else "half_up")]
    if kind == "money":
        return quantize(Decimal(value), ROUNDING_UNITS[unit or "cents"], rounding)
    return int(quantize(Decimal(value), EURO, rounding))


def store(value: Any, kind: str, output: bool = False, item: str | None = None) -> Any:
    """A computed value as a value of its declared type ``kind`` (``item``: the type of a list's items).

    Amounts stay exact (a derived value is never rounded unless a rule says so); only an output's
    amount is rounded to the cent, half up, once, when it is decided (``output``). Integers stored
    as decimals become Decimals. A number out of range (``MAX_DIGITS`` digits before the point) is
    a Fail: the value cannot be computed, in every engine alike.
    """
    if kind in ("integer", "decimal", "money") and not in_range(value):
        return Fail(OUT_OF_RANGE)
    if kind == "list" and isinstance(value, list) and not all_in_range(value):
        return Fail(OUT_OF_RANGE)
    if kind == "money":
        if output and isinstance(value, Decimal):
            return quantize(value, CENT, ROUND_HALF_UP)
        return value
    if kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if kind == "list" and output and item == "money" and isinstance(value, list):
        return [quantize(v, CENT, ROUND_HALF_UP) if isinstance(v, Decimal) else v for v in value]
    return value


def money_text(value: Decimal) -> str:
    """An amount's exact digits, with at least two decimals and no trailing zeros beyond them: 1500.00, 0.0325."""
    if not value.is_finite():  # pragma: no cover - amounts are finite
        return str(value)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -2:
        stripped = value.normalize(Context(prec=max(28, len(value.as_tuple().digits))))
        e = stripped.as_tuple().exponent
        assert isinstance(e, int)
        value = stripped if e <= -2 else quantize(stripped, CENT, ROUND_HALF_UP)
    elif exponent > -2:
        value = quantize(value, CENT, ROUND_HALF_UP)  # adds zeros only: exact
    return format(value, "f")


class AmountError(ValueError):
    """An amount written in a way that cannot be read, or can be read two ways; ``hint`` says how to write it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*(?:,[\u2013-])?")


def parse_amount(written: str) -> Decimal:
    """The value of an amount as a rule file writes it (after the euro sign), exact to its last digit.

    Dutch legal notation and the plain forms: ``1.234,56`` and ``2.112,–`` (dots group thousands, the
    comma is the decimal comma, ``,–`` means no cents); ``12,34`` and ``0,0325`` (a decimal comma);
    ``12.34``, ``12.5`` and ``0.0325`` (a decimal point: a single dot that is not followed by exactly
    three digits); ``2.112`` and ``1.234.567`` (dots followed by groups of three digits group
    thousands). Refused, with an AmountError, are the forms that read two ways or are not Dutch:
    ``0.325`` and ``1234.567`` (a dot and three digits that cannot be a thousands group),
    ``1,234.56`` and ``1,234,567`` (English grouping), and ``12,345`` (a comma and three digits after a
    whole number: English thousands, or three decimals). The value keeps every digit written, and at
    least the cents: ``12`` is 12.00.
    """
    text = written.strip()
    if not _AMOUNT.fullmatch(text):
        raise AmountError(f"`€ {text}` is not an amount", "write amounts as € 12,34, € 12.34 or € 1.234,56")
    shown = f"€ {text}"
    no_cents = text.endswith((",\u2013", ",-"))
    if no_cents:
        text = text[:-2]
    commas, dots = text.count(","), text.count(".")
    if commas > 1 or (commas and dots and text.rfind(".") > text.rfind(",")):
        raise AmountError(f"`{shown}` is written with English grouping",
                          "write the Dutch way, with a decimal comma: € 1.234,56 (or € 1234.56)")
    if commas:
        whole, fraction = text.split(",")
        groups = whole.split(".")
        if not dots and len(fraction) == 3 and whole.lstrip("0"):
            raise AmountError(f"`{shown}` can be read two ways: a comma followed by three digits groups thousands "
                              "in English notation",
                              f"write € {whole}.{fraction} for {whole}{fraction} euros (Dutch notation), or "
                              f"€ {whole},{fraction}0 for an amount with three decimals")
    elif dots:
        parts = text.split(".")
        if len(parts) == 2 and len(parts[1]) != 3:
            whole, fraction, groups = parts[0], parts[1], [parts[0]]
        else:
            whole, fraction, groups = text, "", parts
    else:
        whole, fraction, groups = text, "", [text]
    if len(groups) > 1:
        head = groups[0]
        if not (1 <= len(head) <= 3) or head.startswith("0") or any(len(g) != 3 for g in groups[1:]):
            if not commas and len(groups) == 2:
                raise AmountError(f"`{shown}` can be read two ways: a dot followed by three digits groups "
                                  "thousands in Dutch notation",
                                  f"write € {groups[0]},{groups[1]} for an amount with three decimals, or group "
                                  "thousands from the left (€ 1.234)")
            raise AmountError(f"`{shown}` groups its digits wrongly: a dot groups three digits, counted from the "
                              "decimal comma", "write € 1.234.567,89, or the digits without dots")
        whole = "".join(groups)
    if no_cents and fraction:
        raise AmountError(f"`{shown}`: `,–` stands for no cents and follows the whole euros",
                          "write € 2.112,– or € 2.112,00")
    value = Decimal(f"{whole}.{fraction}" if fraction else whole)
    return value if len(fraction) >= 2 else quantize(value, CENT, ROUND_HALF_UP)


def case_amount(text: str) -> Decimal:
    """An amount as a case or a CSV file gives it: digits with a decimal point or comma (``12.34``, ``€ 12,34``).

    No thousands separators: in data, ``1.500`` would read two ways. InvalidOperation if it is no number.
    """
    cleaned = text.strip().lstrip("€").strip()
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    return Decimal(cleaned)


def whole_cents(value: Decimal) -> bool:
    """Is the amount a whole number of cents (what a money input or a money output can be)?"""
    try:
        return quantize(value, CENT, ROUND_HALF_UP) == value
    except InvalidOperation:  # pragma: no cover - quantize is exact for finite values
        return False


def typed_value(value: Any, kind: str, item: str | None = None) -> Any:
    """A value of a known type as a decision holds it in Python: an amount with at least its cents (12.50, not
    12.5), so that its JSON text (``to_json``) is ``typed_json``'s; any other value as it is."""
    if kind == "money" and isinstance(value, Decimal):
        return Decimal(money_text(value))
    if kind == "list" and item == "money" and isinstance(value, list):
        return [Decimal(money_text(v)) if isinstance(v, Decimal) else v for v in value]
    return value


def typed_json(value: Any, kind: str, item: str | None = None) -> Any:
    """The JSON form of a value of a known type: amounts with their exact digits, at least the cents."""
    if kind == "money" and isinstance(value, Decimal):
        return money_text(value)
    if kind == "list" and item == "money" and isinstance(value, list):
        return [money_text(v) if isinstance(v, Decimal) else to_json(v) for v in value]
    return to_json(value)


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
