"""JSON Schema of a case, derived from the rule book's input declarations."""

from __future__ import annotations

from typing import Any

from . import nodes as n
from .rulebook import RuleBook


def type_schema(t: n.TypeRef) -> dict[str, Any]:
    k = t.kind
    if k == "boolean":
        return {"type": "boolean"}
    if k == "integer":
        return {"type": "integer"}
    if k == "decimal":
        return {"type": ["number", "string"], "pattern": r"^-?\d+(\.\d+)?$"}
    if k == "money":
        return {"type": ["number", "string"], "pattern": r"^(€\s*)?-?\d+([.,]\d{1,2})?$",
                "description": "an amount in euro, exact to the cent (a string such as \"21.67\" keeps it exact)"}
    if k == "date":
        return {"type": "string", "format": "date"}
    if k == "text":
        return {"type": "string"}
    if k == "enum":
        return {"type": "string", "enum": list(t.choices)}
    assert t.item is not None
    return {"type": "array", "items": type_schema(t.item)}


def case_schema(book: RuleBook) -> dict[str, Any]:
    """A schema for a case file: nested objects follow the dotted input names."""
    root: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    for name, decl in sorted(book.program.inputs.items()):
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            node = node["properties"].setdefault(
                part, {"type": "object", "properties": {}, "additionalProperties": False})
        leaf = type_schema(decl.type)
        if decl.description:
            leaf = {**leaf, "description": decl.description}
        node["properties"][parts[-1]] = leaf
    outputs: dict[str, Any] = {name: {} for name in book.program.values}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "passendezorg case",
        "type": "object",
        "required": ["input"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "on": {"type": "string", "format": "date"},
            "input": root,
            "expect": {"type": "object", "properties": outputs, "additionalProperties": False},
        },
    }
