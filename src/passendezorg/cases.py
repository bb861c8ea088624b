"""Case files: read YAML or JSON, and turn a case's facts into typed inputs with field paths in errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from . import nodes as n
from .check import suggest
from .errors import CaseError
from .values import MAX_DIGITS, PLAIN_INTEGER, bounded_decimal, in_range, parse_date, parse_number, round_money, whole_cents

CASE_SUFFIXES = (".yaml", ".yml", ".json")

XFAIL_FIELDS = ("xfail", "verwacht_fout")
"""The mark of a case that is expected to fail, with its reason (English and Dutch spelling)."""

CASE_FIELDS = ("input", "expect", "name", "id", "description", "on", "peildatum", *XFAIL_FIELDS)
"""The fields of a case: `input` (the facts), and optionally `expect`, `name` (or `id`), `description`, the date
to read it on, `on` (or `peildatum`), and `xfail` (or `verwacht_fout`): why it is expected to fail."""

BOOLEAN_WORDS = {"true": True, "false": False, "ja": True, "nee": False, "yes": True, "no": False}
"""Booleans as words, in either keyword language, for case facts and expectations."""


MAX_CASE_FILE_BYTES = 16 << 20
"""The largest case file (YAML or JSON) passendezorg reads: 16 MiB."""


class _CaseLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter about what it takes for a number and a mapping.

    An impossible date (2024-02-30) and a number that is not plain decimal digits
    (``1_000``, ``0x1F``, ``1:30``, ``.inf``) stay text, so the typed conversion
    reports them with their field path; a key given twice in a mapping is an error
    with its line (YAML itself keeps the last).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: YAML says so itself
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"the key {key!r} is given twice (first on line {first.start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_YAML_INT = re.compile(r"[-+]?[0-9]+")
_YAML_FLOAT = re.compile(r"[-+]?[0-9]*\.[0-9]+|[-+]?[0-9]+\.[0-9]*")


def _int(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    if isinstance(text, str) and _YAML_INT.fullmatch(text) and len(text) <= 4000:
        return int(text)
    return text  # 0x1F, 1_000, 1:30, or a number too long to be a number: the typed conversion says what is wrong


def _float(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    if isinstance(text, str) and _YAML_FLOAT.fullmatch(text) and len(text) <= 4000:
        return float(text)
    return text


_CaseLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_CaseLoader.add_constructor("tag:yaml.org,2002:int", _int)
_CaseLoader.add_constructor("tag:yaml.org,2002:float", _float)


def load_yaml(text: str) -> Any:
    """Parse YAML case data with the case loader; RecursionError if it nests too deeply.

    YAML's scanner takes time in proportion to the nesting of ``[`` and ``{`` for each token it
    reads: text nested beyond ``MAX_FLOW_NESTING`` is refused before it is read.
    """
    if _flow_nesting(text) > MAX_FLOW_NESTING:
        raise RecursionError(f"the text nests more than {MAX_FLOW_NESTING} levels deep")
    return yaml.load(text, Loader=_CaseLoader)  # noqa: S506 - a SafeLoader subclass


MAX_FLOW_NESTING = 100
"""How deeply ``[…]`` and ``{…}`` may nest in a YAML case (a case needs a few levels)."""
_FLOW = re.compile(r"[\[\]{}]")


def _flow_nesting(text: str) -> int:
    """The deepest nesting of brackets in a text (counting those in quoted texts too: an upper bound)."""
    if text.count("[") + text.count("{") <= MAX_FLOW_NESTING:
        return 0
    depth = deepest = 0
    for m in _FLOW.finditer(text):
        depth = depth + 1 if m.group() in "[{" else max(0, depth - 1)
        deepest = max(deepest, depth)
        if deepest > MAX_FLOW_NESTING:
            break
    return deepest


class JsonProblem(Exception):
    """Why a JSON text is not a case: ``message`` says what, ``line`` and ``column`` where (0 if unknown)."""

    def __init__(self, message: str, line: int = 0, column: int = 0, syntax: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.syntax = syntax  # the JSON parser's own words, for a text that is not JSON at all


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


JSON_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object)
"""Python's JSON decoder, except that a key given twice in one object is an error (Python keeps the last)."""


def decode_json(text: str) -> Any:
    """A JSON text as data; JsonProblem if it is not valid JSON, gives a key twice, nests too deeply or holds a
    number too long to read."""
    try:
        return JSON_DECODER.decode(text)
    except _DuplicateKey as e:
        line, column = _key_position(text, e.key)
        raise JsonProblem(f"the key {json.dumps(e.key, ensure_ascii=False)} is given twice in one mapping",
                          line, column) from None
    except json.JSONDecodeError as e:
        raise JsonProblem(f"not valid JSON: {e.msg}", e.lineno, e.colno, e.msg) from None
    except RecursionError:
        raise JsonProblem("not valid as a case: it nests too deeply") from None
    except ValueError:  # Python reads no integer of more than 4,300 digits
        raise JsonProblem("not valid as a case: it holds a number with too many digits") from None


def _key_position(text: str, key: str) -> tuple[int, int]:
    """Where a key stands the second time (1-based line and column), or (0, 0) if it cannot be told."""
    quoted = json.dumps(key)
    first = text.find(quoted + ":")
    if first < 0:
        return 0, 0
    pos = text.find(quoted, first + len(quoted))
    while pos >= 0 and not text[pos + len(quoted):].lstrip(" \t\r\n").startswith(":"):
        pos = text.find(quoted, pos + len(quoted))
    if pos < 0:
        return 0, 0
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


@dataclass(frozen=True)
class Case:
    """One case: its facts, and optionally what it is expected to decide."""

    input: Mapping[str, Any]
    name: str | None = None
    description: str | None = None
    expect: Mapping[str, Any] | None = None
    on: dt.date | None = None
    path: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    xfail: str | None = None  # why the case is expected to fail (`xfail:` or `verwacht_fout:`); None: it must pass


def read_case_file(path: Path) -> Case:
    """Read one case file; a malformed file raises CaseError naming the file (and the line where it can)."""
    where = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CASE_FILE_BYTES + 1)
    except OSError as e:
        raise CaseError(where, f"cannot read the file ({e.strerror or e})") from None
    if len(raw) > MAX_CASE_FILE_BYTES:
        raise CaseError(where, f"the file is larger than {MAX_CASE_FILE_BYTES >> 20} MiB; a case file holds one case")
    text = utf8_text(raw, where)
    if path.suffix == ".json":
        try:
            data = decode_json(text)
        except JsonProblem as e:
            raise CaseError(f"{path}:{e.line}:{e.column}" if e.line else where, e.message) from None
    else:
        try:
            data = load_yaml(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            if mark is not None:
                where = f"{path}:{mark.line + 1}:{mark.column + 1}"
            raise CaseError(where, f"not valid YAML: {getattr(e, 'problem', None) or e}") from None
        except RecursionError:
            raise CaseError(where, "not valid as a case: it nests too deeply") from None
    return case_from_data(data, where, default_name=path.stem)


def utf8_text(raw: bytes, where: str) -> str:
    """Bytes as UTF-8 text; CaseError with the line and column of the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise CaseError(f"{where}:{line}:{column}", f"not UTF-8 text ({e.reason}); save the file as UTF-8") from None


def case_from_data(data: Any, where: str, default_name: str | None = None) -> Case:
    if not isinstance(data, dict):
        raise CaseError(where, "a case is a mapping with an `input` block (and optionally `expect`)")
    if "input" not in data:
        raise CaseError(where, "the case has no `input` block")
    facts = data["input"]
    if facts is None:
        facts = {}
    if not isinstance(facts, dict):
        raise CaseError(f"{where}: input", "expected a mapping of facts")
    expect = data.get("expect")
    if expect is not None and not isinstance(expect, dict):
        raise CaseError(f"{where}: expect", "expected a mapping of outputs to expected values")
    on = data.get("on", data.get("peildatum"))
    if on is not None:
        on = _date(on, f"{where}: {'on' if 'on' in data else 'peildatum'}")
    unknown = [k for k in data if k not in CASE_FIELDS]
    if unknown:
        hint = suggest(str(unknown[0]), CASE_FIELDS)
        raise CaseError(f"{where}: {unknown[0]}", "unknown field in a case; a case has `input` and optionally "
                        "`expect`, `name` (or `id`), `description`, `on` (or `peildatum`) and `xfail`"
                        + (f"; {hint}" if hint else ""))
    for key in ("name", "id"):
        if data.get(key) is not None and (isinstance(data[key], bool) or not isinstance(data[key], (str, int, float))):
            raise CaseError(f"{where}: {key}", f"expected a text or a number, got {_show(data[key])}")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise CaseError(f"{where}: description", f"expected a text, got {_show(description)}")
    xfail = None
    for key in XFAIL_FIELDS:
        if key in data:
            reason = data[key]
            if not isinstance(reason, str) or not reason.strip():
                raise CaseError(f"{where}: {key}", "give the reason the case is expected to fail, as text: "
                                f'`{key}: "…"`')
            xfail = reason.strip()
    name = data.get("name") or data.get("id") or default_name
    return Case(facts, str(name) if name is not None else None, description, expect, on, where, xfail=xfail)


def case_from_record(data: Any, where: str, default_name: str | None = None) -> Case:
    """A case from one record of a batch: a case (``{"input": {…}, …}``) or the facts themselves with an ``id``."""
    if isinstance(data, dict) and "input" not in data:
        data = {"input": {k: v for k, v in data.items() if k != "id"}, "id": data.get("id")}
    return case_from_data(data, where, default_name=default_name)


def name_of(case: Case | Mapping[str, Any]) -> str | None:
    """The name of a case, also of one that cannot be read: a Case's name, or a mapping's `name` or `id`."""
    if isinstance(case, Case):
        return case.name
    name = case.get("name") or case.get("id") if isinstance(case, Mapping) else None
    return str(name) if name is not None else None


def json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """The non-empty lines of a JSON-lines file as (line number, value), or the JsonProblem of a bad line."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield lineno, JsonProblem(f"not UTF-8 text ({e.reason}) at column {e.start + 1}", 1, e.start + 1)
                continue
            try:
                yield lineno, decode_json(line)
            except JsonProblem as e:
                yield lineno, e


def iter_case_paths(paths: list[Path]) -> Iterator[Path]:
    """Case files under the given files and folders, in a stable order."""
    for p in paths:
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*") if q.suffix in CASE_SUFFIXES and q.is_file())
        else:
            yield p


def _date(v: Any, where: str) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, str):
        try:
            return parse_date(v)
        except ValueError:
            pass
    raise CaseError(where, f"expected a date (YYYY-MM-DD), got {_show(v)}")


def _show(v: Any) -> str:
    if isinstance(v, str):
        if len(v) > 60:
            return json.dumps(v[:40], ensure_ascii=False)[:-1] + f'…" ({len(v):,} characters)'
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing"
    if isinstance(v, (dict, list)):
        return "a mapping" if isinstance(v, dict) else "a list"
    try:
        text = str(v)
    except ValueError:  # an integer of more than 4,300 digits
        return "a number of more than 4,300 digits"
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text):,} characters)"


def convert(value: Any, t: n.TypeRef, where: str, *, fact: bool = False, cents: bool = True) -> Any:
    """A value from a case as a typed value; CaseError with the field path if it does not fit.

    A ``fact`` (an input, not an expected output) that is an amount is never negative. An amount is
    exact to the cent (``cents``): more digits than that are an error, never rounded away.
    Expectations of derived amounts, which are exact, pass ``cents=False``.
    """
    k = t.kind
    if k == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[value.strip().lower()]
        raise CaseError(where, f"expected true or false (ja or nee), got {_show(value)}")
    if k == "integer":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not in_range(value):
                raise CaseError(where, f"the number is out of range: an integer has at most {MAX_DIGITS} digits")
            return value
        if isinstance(value, str) and PLAIN_INTEGER.fullmatch(value.strip()):
            try:
                parse_number(value, "integer")
            except ValueError as e:
                raise CaseError(where, str(e)) from None
        raise CaseError(where, f"expected an integer, got {_show(value)}")
    if k in ("decimal", "money"):
        what = "an amount" if k == "money" else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise CaseError(where, f"expected {what}, got {_show(value)}")
        try:
            if isinstance(value, str):
                text = value.strip()
                if k == "money":
                    text = text.removeprefix("€").strip().replace(",", ".")
                d = Decimal(parse_number(text, k))
            elif isinstance(value, float):
                d = bounded_decimal(Decimal(repr(value)) if value == value and abs(value) != float("inf")
                                    else Decimal("NaN"))
            else:
                d = bounded_decimal(Decimal(value))
        except (ValueError, InvalidOperation) as e:
            raise CaseError(where, f"{e}, got {_show(value)}") from None
        if fact and k == "money" and d < 0:
            raise CaseError(where, f"an amount in a case is never negative, got {_show(value)}")
        if k == "money":
            if not cents:
                return d
            if not whole_cents(d):
                raise CaseError(where, f"{_show(value)} has more digits than an amount in cents; amounts are exact "
                                "to the cent and are never rounded here (give the amount in cents, or make the "
                                "input a decimal)")
            return round_money(d)
        return d
    if k == "date":
        return _date(value, where)
    if k == "text":
        if isinstance(value, str):
            return value
        raise CaseError(where, f"expected a text, got {_show(value)}")
    if k == "enum":
        if isinstance(value, str) and value in t.choices:
            return value
        hint = suggest(value, t.choices) if isinstance(value, str) else None
        raise CaseError(where, f"expected one of {', '.join(t.choices)}, got {_show(value)}"
                        + (f"; {hint}" if hint else ""))
    if k == "list":
        if not isinstance(value, list):
            raise CaseError(where, f"expected a list, got {_show(value)}")
        assert t.item is not None
        return [convert(v, t.item, f"{where}[{i}]", fact=fact, cents=cents) for i, v in enumerate(value)]
    raise CaseError(where, f"unsupported type {t}")  # pragma: no cover


_PREFIXES: dict[int, tuple[Mapping[str, n.InputDecl], frozenset[str]]] = {}


def _prefixes(inputs: Mapping[str, n.InputDecl]) -> frozenset[str]:
    """The groups of the declared inputs (``behandeling`` of ``behandeling.soort``), once per rule book."""
    found = _PREFIXES.get(id(inputs))
    if found is not None and found[0] is inputs:
        return found[1]
    prefixes = {".".join(name.split(".")[:i]) for name in inputs for i in range(1, name.count(".") + 1)}
    if len(_PREFIXES) >= 16:
        _PREFIXES.clear()
    _PREFIXES[id(inputs)] = (inputs, frozenset(prefixes))
    return frozenset(prefixes)


def typed_inputs(facts: Mapping[str, Any], inputs: Mapping[str, n.InputDecl], where: str = "",
                 groups: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flatten nested facts (``behandeling: {soort: …}``) to declared inputs, typed.

    Unknown fields are errors with a suggestion: a misspelt fact must not be
    silently taken as missing. A fact given as null counts as missing.

    A group of facts (``groups``: path -> ``program.Group``) is a list of records: the number of records
    is the input named by the group's path, and each field of record ``i`` the input
    ``<path>[i].<field>`` (``household.persons[1].income``), as errors name it.
    """
    out: dict[str, Any] = {}
    groups = groups or {}
    names = [*inputs, *groups]
    if groups:
        prefixes: frozenset[str] | set[str] = {
            ".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 1)}
    else:
        prefixes = _prefixes(inputs)

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            key = str(key)
            name = f"{prefix}{key}"
            path = f"{where}input.{name}" if where else name
            if name in inputs:
                if value is not None:
                    out[name] = convert(value, inputs[name].type, path, fact=True)
            elif name in groups:
                if value is not None:
                    records(name, value, path)
            elif name in prefixes and isinstance(value, dict):
                walk(value, name + ".")
            elif name in prefixes and value is None:
                continue
            else:
                hint = suggest(name, names)
                raise CaseError(path, "not an input of the rule book" + (f"; {hint}" if hint else ""))

    def records(name: str, value: Any, path: str) -> None:
        group = groups[name]
        if not isinstance(value, list):
            raise CaseError(path, f"expected a list of records (`{group.record}`), got {_show(value)}")
        out[name] = len(value)
        for i, record in enumerate(value):
            at = f"{path}[{i}]"
            if record is None:
                record = {}
            if not isinstance(record, dict):
                raise CaseError(at, f"expected a record (a mapping of its fields), got {_show(record)}")
            for key, field_value in record.items():
                key = str(key)
                if key not in group.fields:
                    hint = suggest(key, list(group.fields))
                    raise CaseError(f"{at}.{key}", f"not a field of `{group.record}`"
                                    + (f"; {hint}" if hint else f"; its fields are: {', '.join(group.fields)}"))
                if field_value is not None:
                    out[f"{name}[{i}].{key}"] = convert(field_value, group.fields[key], f"{at}.{key}", fact=True)

    walk(facts, "")
    return out
