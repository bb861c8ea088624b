"""JSON Schema of a case, derived from the rule book's input declarations.

The schema accepts what the case loader (``cases.case_from_data``, ``cases.typed_inputs``) accepts, no less:
every field of a case, facts nested by their dotted names or given by the dotted name itself, a fact or a
group given as null (missing), yes/no as a word, numbers and amounts as JSON numbers or as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import nodes as n
from .cases import BOOLEAN_WORDS, XFAIL_FIELDS
from .rulebook import RuleBook

_DIGITS = r"[0-9]+"  # plain decimal digits, as the loader reads them (no `_`, no exponent, no other scripts)
_NUMBER = rf"[+-]?({_DIGITS}(\.({_DIGITS})?)?|\.{_DIGITS})"
_AMOUNT = rf"[+-]?({_DIGITS}([.,]({_DIGITS})?)?|[.,]{_DIGITS})"


def _any_case(word: str) -> str:
    """A regular expression for a word in any mix of capitals (JSON Schema's patterns have no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


_BOOLEAN_WORD = r"^\s*(" + "|".join(_any_case(w) for w in sorted(BOOLEAN_WORDS)) + r")\s*$"


def type_schema(t: n.TypeRef) -> dict[str, Any]:
    """The schema of a fact of a declared type (not null; ``case_schema`` allows null for a missing fact)."""
    k = t.kind
    if k == "boolean":
        return {"type": ["boolean", "string"], "pattern": _BOOLEAN_WORD,
                "description": "yes or no: true or false, or a word: ja, nee, yes, no"}
    if k == "integer":
        return {"type": "integer"}
    if k == "decimal":
        return {"type": ["number", "string"], "pattern": rf"^\s*{_NUMBER}\s*$"}
    if k == "money":
        return {"type": ["number", "string"], "pattern": rf"^\s*€*\s*{_AMOUNT}\s*$",
                "description": "an amount in euro, exact to the cent (a string such as \"21.67\" or \"€ 21,67\" "
                               "keeps it exact)"}
    if k == "date":
        return {"type": "string", "format": "date"}
    if k == "text":
        return {"type": "string"}
    if k == "enum":
        return {"type": "string", "enum": list(t.choices)}
    assert t.item is not None
    return {"type": "array", "items": type_schema(t.item)}


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema that also takes null: a fact given as null is a missing fact."""
    out = dict(schema)
    types = out["type"] if isinstance(out["type"], list) else [out["type"]]
    out["type"] = [*types, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def records_schema(group: Any) -> dict[str, Any]:
    """A group of facts (``program.Group``): a list of records, each a mapping of its typed fields (null: a
    missing field, or a record without any); null for the whole list: the case does not give it."""
    fields = {f: _or_null(type_schema(t)) for f, t in group.fields.items()}
    out: dict[str, Any] = {"type": ["array", "null"],
                           "items": {"type": ["object", "null"], "properties": fields, "additionalProperties": False},
                           "description": f"a list of records (`{group.record}`), counted from 0"}
    if group.description:
        out["description"] = f"{group.description}: a list of records (`{group.record}`), counted from 0"
    return out


def facts_schema(inputs: Mapping[str, n.InputDecl], prefix: str = "", groups: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    """The facts under ``prefix`` (``""``: all of them): nested by the parts of the dotted names, and also by
    a dotted rest of a name (``{"behandeling.soort": …}``), as the loader reads them. Null is a missing group.
    ``groups`` (path -> ``program.Group``) are lists of records at their places."""
    groups = groups or {}
    leaves = [*inputs, *groups]
    names = sorted(name[len(prefix):] for name in leaves if name.startswith(prefix))
    nested: dict[str, Any] = {}
    dotted: dict[str, Any] = {}
    for rest in names:
        parts = rest.split(".")
        for i in range(1, len(parts) + 1):
            key = ".".join(parts[:i])
            into = nested if i == 1 else dotted
            if key in into:
                continue
            if i == len(parts) and prefix + key in groups:
                into[key] = records_schema(groups[prefix + key])
            elif i == len(parts):
                decl = inputs[prefix + key]
                leaf = _or_null(type_schema(decl.type))
                into[key] = {**leaf, "description": decl.description} if decl.description else leaf
            else:
                into[key] = facts_schema(inputs, f"{prefix}{key}.", groups)
    return {"type": ["object", "null"], "properties": {**nested, **dotted}, "additionalProperties": False}


def case_schema(book: RuleBook) -> dict[str, Any]:
    """A schema for a case file: the facts in `input`, and the other fields a case may have."""
    outputs: dict[str, Any] = {name: {} for name in book.program.values}
    day = {"type": "string", "format": "date"}
    name = {"type": ["string", "number"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "passendezorg case",
        "type": "object",
        "required": ["input"],
        "additionalProperties": False,
        "properties": {
            "name": {**name, "description": "the name of the case; the decision repeats it"},
            "id": {**name, "description": "the case's id, the name when it has none"},
            "description": {"type": "string"},
            "on": {**day, "description": "read the case on this date instead of its peildatum"},
            "peildatum": {**day, "description": "another name for `on`"},
            "input": facts_schema(book.program.inputs, groups=book.program.groups),
            "expect": {"type": ["object", "null"], "properties": outputs, "additionalProperties": False,
                       "description": "what the case should decide, for `passendezorg test`"},
            **{key: {"type": "string", "pattern": r"\S", "description": "why the case is expected to fail "
                                                                          "(`passendezorg test` counts it apart)"}
               for key in XFAIL_FIELDS},
        },
    }
