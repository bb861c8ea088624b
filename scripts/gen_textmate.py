#!/usr/bin/env python3
"""Generate the TextMate grammar of the VS Code extension from the grammar's keyword files.

The keywords of both languages come from grammar/keywords_<language>.lark (through
passendezorg.keywords), the names of the built-in functions from the checker, so a new
keyword or function cannot be forgotten: tests/test_textmate.py fails while the
committed grammar differs from what this script writes.

A file is read with the keywords of the language its first line names (`taal
nederlands`, `language english`; English without one), as the parser does.

Usage: scripts/gen_textmate.py [--check] [--out FILE]
  --check   only compare; exit 1 if FILE is not what would be written
Default FILE: editors/vscode/syntaxes/passendezorg.tmLanguage.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "editors" / "vscode" / "syntaxes" / "passendezorg.tmLanguage.json"
sys.path.insert(0, str(ROOT / "src"))

from passendezorg.check import FUNCTIONS  # noqa: E402
from passendezorg.keywords import KEYWORD_KINDS, keyword_patterns  # noqa: E402
from passendezorg.syntax import LANGUAGE_ALIASES, LANGUAGES  # noqa: E402

SCOPE = "passendezorg"
#: the TextMate scope of each kind of keyword (passendezorg.keywords.KEYWORD_KINDS)
KIND_SCOPES = {
    "declaration": "keyword.declaration",
    "clause": "keyword.control",
    "attribute": "keyword.other",
    "operator": "keyword.operator.word",
    "type": "storage.type",
    "constant": "constant.language",
    "unit": "keyword.other.unit",
}
NAME = r"[^\W\d]\w*"
DOTTED = rf"{NAME}(?:\.{NAME})*"
BEFORE = r"(?<![\w.])"  # a keyword is a word of its own, never the part of a dotted name after a dot


def scope(name: str) -> str:
    return f"{name}.{SCOPE}"


def keyword(language: str, terminal: str) -> str:
    """The keyword's regular expression, as a group, without the grammar's trailing \\b (added where used)."""
    return "(?:" + keyword_patterns(language)[terminal].removesuffix(r"\b") + ")"


def alternation(language: str, terminals: list[str]) -> str:
    # longest first: Oniguruma takes the first alternative that matches (`niet in` before `niet`)
    ordered = sorted(terminals, key=lambda t: (-len(keyword_patterns(language)[t]), t))
    return "(?:" + "|".join(keyword(language, t) for t in ordered) + ")"


def keywords_of(language: str) -> dict[str, Any]:
    """The rules of one language: literals, declarations with their names, keywords, names and operators."""
    patterns = keyword_patterns(language)
    missing = sorted(set(patterns) - set(KEYWORD_KINDS))
    if missing:
        raise SystemExit(f"keywords without a kind in passendezorg.keywords.KEYWORD_KINDS: {', '.join(missing)}")
    by_kind: dict[str, list[str]] = {}
    for terminal in patterns:
        by_kind.setdefault(KEYWORD_KINDS[terminal], []).append(terminal)
    words = {t: keyword_patterns(language)[t] for t in patterns}
    for a in patterns:  # a keyword that begins another of another kind would depend on the order of the rules
        for b in patterns:
            if KEYWORD_KINDS[a] != KEYWORD_KINDS[b] and words[b].startswith(words[a].removesuffix(r"\b") + "[ \\t]+"):
                raise SystemExit(f"{language}: `{a}` begins `{b}` of another kind; give them one kind")

    def declares(terminal: str, name_scope: str, name: str = NAME) -> dict[str, Any]:
        return {
            "match": rf"{BEFORE}({keyword(language, terminal)})\b[ \t]+({name})\b",
            "captures": {"1": {"name": scope(KIND_SCOPES[KEYWORD_KINDS[terminal]])}, "2": {"name": scope(name_scope)}},
        }

    # a function whose name is a keyword (`round`, `afronden`: rounding with a unit and a mode) is that keyword
    words_written = {w.removesuffix(r"\b") for w in words.values()}
    functions = sorted((f for f in FUNCTIONS[language] if f not in words_written), key=lambda f: (-len(f), f))
    rules: list[dict[str, Any]] = [
        {"include": "#comment"},
        {"include": "#string"},
        {   # a duration: a whole number and a unit (`18 jaar`), where the unit is no function call
            "match": rf"(?<![\w.])(\d+)[ \t]*({alternation(language, by_kind['unit'])})\b",
            "captures": {"1": {"name": scope("constant.numeric.integer")},
                         "2": {"name": scope(KIND_SCOPES["unit"])}},
        },
        {"include": "#number"},
        declares("KW_LANGUAGE", "constant.other.language-name"),
        declares("KW_RULESET", "entity.name.namespace"),
        declares("KW_INPUT", "entity.name.variable.input", DOTTED),
        declares("KW_PEILDATUM", "variable.other.input", DOTTED),
        declares("KW_DERIVED", "entity.name.variable.derived"),
        declares("KW_OUTPUT", "entity.name.variable.output"),
        declares("KW_PARAMETER", "entity.name.variable.parameter"),
        declares("KW_TABLE", "entity.name.type.table"),
        declares("KW_COLUMN", "variable.other.member"),
        declares("KW_FIELD", "variable.other.member"),
        declares("KW_GROUP", "entity.name.type.group"),
        declares("KW_PER", "entity.name.type.group"),
        declares("KW_RULE", "entity.name.function.rule"),
        declares("KW_EXCEPTION_TO", "entity.name.function.rule"),
        declares("KW_SOURCE", "entity.name.label.source", rf"(?!{keyword(language, 'KW_COLUMN')}\b){NAME}"),
        {   # a built-in function; before the keywords, for `jaar(…)` is a call and `18 jaar` a duration
            "match": rf"{BEFORE}(?:{'|'.join(functions)})(?=[ \t]*\()",
            "name": scope("support.function.builtin"),
        },
    ]
    for kind in KIND_SCOPES:
        rules.append({"match": rf"{BEFORE}{alternation(language, by_kind[kind])}\b",
                      "name": scope(KIND_SCOPES[kind])})
    rules += [
        {"match": rf"{BEFORE}{NAME}(?=[ \t]*\()", "name": scope("variable.function")},
        {"include": "#name"},
        {"include": "#operator"},
    ]
    return {"patterns": rules}


def language_switch(language: str) -> dict[str, Any]:
    """From the line that names the language to the end of the file, that language's rules."""
    keyword_pattern = keyword(language, "KW_LANGUAGE")
    names = sorted({alias for alias, lang in LANGUAGE_ALIASES.items() if lang == language}, key=lambda a: (-len(a), a))
    return {
        "begin": rf"^(?=[ \t]*{keyword_pattern}\b[ \t]+(?i:{'|'.join(names)})\b)",
        "end": "(?!x)x",  # never: the rest of the file is in this language
        "patterns": [{"include": f"#{language}"}],
    }


def grammar() -> dict[str, Any]:
    repository: dict[str, Any] = {
        "comment": {
            "match": r"(#).*$",
            "name": scope("comment.line.number-sign"),
            "captures": {"1": {"name": scope("punctuation.definition.comment")}},
        },
        "string": {
            "begin": '"',
            "end": '(")|$',
            "name": scope("string.quoted.double"),
            "beginCaptures": {"0": {"name": scope("punctuation.definition.string.begin")}},
            "endCaptures": {"1": {"name": scope("punctuation.definition.string.end")}},
            "patterns": [{"match": r"\\.", "name": scope("constant.character.escape")}],
        },
        "number": {
            "patterns": [
                {"match": r"\d{4}-\d{2}-\d{2}", "name": scope("constant.numeric.date")},
                {"match": r"€[ \t]*\d+(?:[.,]\d+)*(?:,[–-](?![\w(]))?", "name": scope("constant.numeric.money")},
                {"match": r"\d+(?:\.\d+)?[ \t]*%", "name": scope("constant.numeric.percentage")},
                {"match": r"\d+\.\d+", "name": scope("constant.numeric.decimal")},
                {"match": r"\d+", "name": scope("constant.numeric.integer")},
            ],
        },
        "name": {
            "patterns": [
                {"match": NAME, "name": scope("variable.other")},
                {"match": r"\.", "name": scope("punctuation.accessor")},
            ],
        },
        "operator": {
            "patterns": [
                {"match": "<=|>=|!=|[<>=≠≤≥]", "name": scope("keyword.operator.comparison")},
                {"match": "[-+*/×]", "name": scope("keyword.operator.arithmetic")},
                {"match": "[:,]", "name": scope("punctuation.separator")},
                {"match": r"[()\[\]]", "name": scope("punctuation.section.brackets")},
            ],
        },
    }
    for language in LANGUAGES:
        repository[language] = keywords_of(language)
    return {
        "comment": "Generated by scripts/gen_textmate.py from grammar/keywords_*.lark; do not edit by hand.",
        "name": "passendezorg",
        "scopeName": f"source.{SCOPE}",
        "fileTypes": ["pz"],
        "patterns": [
            {"include": "#comment"},
            *(language_switch(language) for language in LANGUAGES),
            {"include": "#english"},  # a file without a language line is English, as for the parser
        ],
        "repository": repository,
    }


def render() -> str:
    return json.dumps(grammar(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the file; exit 1 if it differs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is not up to date with the keyword files: run scripts/gen_textmate.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
