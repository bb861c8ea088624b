"""Case files: read YAML or JSON, and turn a case's facts into typed inputs with field paths in errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from . import nodes as n
from .check import suggest
from .errors import CaseError

CASE_SUFFIXES = (".yaml", ".yml", ".json")

XFAIL_FIELDS = ("xfail", "verwacht_fout")
"""The mark of a case that is expected to fail, with its reason (English and Dutch spelling)."""

CASE_FIELDS = ("input", "expect", "name", "id", "description", "on", "peildatum", *XFAIL_FIELDS)
"""The fields of a case: `input` (the facts), and optionally `expect`, `name` (or `id`), `description`, the date
to read it on, `on` (or `peildatum`), and `xfail` (or `verwacht_fout`): why it is expected to fail."""

BOOLEAN_WORDS = {"true": True, "false": False, "ja": True, "nee": False, "yes": True, "no": False}
"""Booleans as words, in either keyword language, for case facts and expectations."""


class _CaseLoader(yaml.SafeLoader):
    """YAML's safe loader, except that an impossible date (2024-02-30) stays text.

    The typed conversion then reports it with its field path instead of YAML failing without one.
    """


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return loader.construct_scalar(node)  # type: ignore[arg-type]


_CaseLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(text: str) -> Any:
    """Parse YAML case data with the case loader."""
    return yaml.load(text, Loader=_CaseLoader)  # noqa: S506 - a SafeLoader subclass


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
    """Read one case file; a malformed file raises CaseError naming the file."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CaseError(where, f"cannot read the file ({e.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f"{path}:{mark.line + 1}:{mark.column + 1}"
        elif isinstance(e, json.JSONDecodeError):
            where = f"{path}:{e.lineno}:{e.colno}"
        raise CaseError(where, f"not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                        f"{getattr(e, 'problem', None) or getattr(e, 'msg', e)}") from None
    return case_from_data(data, where, default_name=path.stem)


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
    """The non-empty lines of a JSON-lines file as (line number, value), or the JSONDecodeError of a bad line."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
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
            return dt.date.fromisoformat(v)
        except ValueError:
            pass
    raise CaseError(where, f"expected a date (YYYY-MM-DD), got {_show(v)}")


def _show(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing"
    if isinstance(v, (dict, list)):
        return "a mapping" if isinstance(v, dict) else "a list"
    return str(v)


def convert(value: Any, t: n.TypeRef, where: str) -> Any:
    """A fact from a case as a typed value; CaseError with the field path if it does not fit."""
    k = t.kind
    if k == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
            return BOOLEAN_WORDS[value.strip().lower()]
        raise CaseError(where, f"expected true or false (ja or nee), got {_show(value)}")
    if k == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise CaseError(where, f"expected an integer, got {_show(value)}")
    if k in ("decimal", "money"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise CaseError(where, f"expected {'an amount' if k == 'money' else 'a number'}, got {_show(value)}")
        text = str(value).strip()
        if k == "money":
            text = text.lstrip("€").strip().replace(",", ".")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise CaseError(where, f"expected {'an amount like 12.34' if k == 'money' else 'a number'}, "
                            f"got {_show(value)}") from None
        if not d.is_finite():
            raise CaseError(where, f"expected a finite number, got {_show(value)}")
        return n.money(d) if k == "money" else d
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
        return [convert(v, t.item, f"{where}[{i}]") for i, v in enumerate(value)]
    raise CaseError(where, f"unsupported type {t}")  # pragma: no cover


def typed_inputs(facts: Mapping[str, Any], inputs: Mapping[str, n.InputDecl], where: str = "") -> dict[str, Any]:
    """Flatten nested facts (``behandeling: {soort: …}``) to declared inputs, typed.

    Unknown fields are errors with a suggestion: a misspelt fact must not be
    silently taken as missing. A fact given as null counts as missing.
    """
    out: dict[str, Any] = {}
    prefixes = {name.rsplit(".", 1)[0] for name in inputs if "." in name}
    prefixes |= {".".join(name.split(".")[:i]) for name in inputs for i in range(1, name.count(".") + 1)}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            key = str(key)
            name = f"{prefix}{key}"
            path = f"{where}input.{name}" if where else name
            if name in inputs:
                if value is not None:
                    out[name] = convert(value, inputs[name].type, path)
            elif name in prefixes and isinstance(value, dict):
                walk(value, name + ".")
            elif name in prefixes and value is None:
                continue
            else:
                hint = suggest(name, list(inputs))
                raise CaseError(path, "not an input of the rule book" + (f"; {hint}" if hint else ""))

    walk(facts, "")
    return out
