"""A Pygments lexer for rule files, so that rule code is highlighted on the documentation site.

Registered as the Pygments lexer ``passendezorg`` (alias ``pz``), so a ```` ```pz ````
fence in Markdown, ``pygmentize -l pz`` and anything else that uses Pygments colour
rule files. Both keyword sets come from the grammar's keyword files; a snippet is read
in the language its first line names (``taal nederlands``), and a snippet without one
(a rule shown on its own in the catalogue) in the language its words are in.

Needs Pygments (the ``docs`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from pygments.lexer import Lexer, RegexLexer, bygroups
from pygments.token import (
    Comment,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
    _TokenType,
)

from .check import FUNCTIONS
from .keywords import KEYWORD_KINDS, keyword_patterns, keyword_table
from .syntax import LANGUAGES, detect_language

__all__ = ["PassendeZorgLexer", "guess_language"]

#: the Pygments token of each kind of keyword (passendezorg.keywords.KEYWORD_KINDS)
KIND_TOKENS: dict[str, _TokenType] = {
    "declaration": Keyword.Declaration,
    "clause": Keyword,
    "attribute": Keyword.Pseudo,
    "operator": Operator.Word,
    "type": Keyword.Type,
    "constant": Keyword.Constant,
    "unit": Keyword.Pseudo,
}
NAME = r"[^\W\d]\w*"
DOTTED = rf"{NAME}(?:\.{NAME})*"
BEFORE = r"(?<![\w.])"  # a keyword is a word of its own, never the part of a dotted name after a dot


def _keyword(language: str, terminal: str) -> str:
    return "(?:" + keyword_patterns(language)[terminal].removesuffix(r"\b") + ")"


def _alternation(language: str, terminals: list[str]) -> str:
    ordered = sorted(terminals, key=lambda t: (-len(keyword_patterns(language)[t]), t))  # `niet in` before `niet`
    return "(?:" + "|".join(_keyword(language, t) for t in ordered) + ")"


def _rules(language: str) -> dict[str, list[Any]]:
    by_kind: dict[str, list[str]] = {}
    for terminal in keyword_patterns(language):
        by_kind.setdefault(KEYWORD_KINDS[terminal], []).append(terminal)

    def declares(terminal: str, name_token: _TokenType, name: str = NAME) -> tuple[str, Any]:
        kind = KIND_TOKENS[KEYWORD_KINDS[terminal]]
        groups = bygroups(kind, Whitespace, name_token)  # type: ignore[no-untyped-call]
        return rf"{BEFORE}({_keyword(language, terminal)})\b([ \t]+)({name})\b", groups

    # a function whose name is a keyword (`round`, `afronden`: rounding with a unit and a mode) is that keyword
    written = {w.removesuffix(r"\b") for w in keyword_patterns(language).values()}
    functions = "|".join(sorted((f for f in FUNCTIONS[language] if f not in written), key=lambda f: (-len(f), f)))
    root: list[Any] = [
        (r"[ \t]+", Whitespace),
        (r"\r?\n", Whitespace),
        (r"#[^\n]*", Comment.Single),
        (r'"', String.Double, "string"),
        (rf"{BEFORE}(\d+)([ \t]*)({_alternation(language, by_kind['unit'])})\b",
         bygroups(Number.Integer, Whitespace, KIND_TOKENS["unit"])),  # type: ignore[no-untyped-call]
        (r"\d{4}-\d{2}-\d{2}", Literal.Date),
        (r"€[ \t]*\d+(?:[.,]\d+)*(?:,[–-](?![\w(]))?", Number),
        (r"\d+(?:\.\d+)?[ \t]*%", Number),
        (r"\d+\.\d+", Number.Float),
        (r"\d+", Number.Integer),
        declares("KW_LANGUAGE", Name.Constant),
        declares("KW_RULESET", Name.Namespace),
        declares("KW_INPUT", Name.Variable, DOTTED),
        declares("KW_PEILDATUM", Name.Variable, DOTTED),
        declares("KW_DERIVED", Name.Variable),
        declares("KW_OUTPUT", Name.Variable),
        declares("KW_PARAMETER", Name.Variable),
        declares("KW_TABLE", Name.Class),
        declares("KW_COLUMN", Name.Attribute),
        declares("KW_FIELD", Name.Attribute),
        declares("KW_GROUP", Name.Class),
        declares("KW_PER", Name.Class),
        declares("KW_RULE", Name.Function),
        declares("KW_EXCEPTION_TO", Name.Function),
        declares("KW_SOURCE", Name.Label, rf"(?!{_keyword(language, 'KW_COLUMN')}\b){NAME}"),
        (rf"{BEFORE}(?:{functions})(?=[ \t]*\()", Name.Builtin),  # before the keywords: `jaar(…)` is a call
    ]
    root += [(rf"{BEFORE}{_alternation(language, terms)}\b", KIND_TOKENS[kind]) for kind, terms in by_kind.items()]
    root += [
        (rf"{NAME}(?=[ \t]*\()", Name.Function),
        (NAME, Name),
        (r"\.", Punctuation),
        (r"<=|>=|!=|[<>=≠≤≥+\-*/×]", Operator),
        (r"[:,()\[\]]", Punctuation),
    ]
    return {
        "root": root,
        "string": [
            (r"\\.", String.Escape),
            (r'"', String.Double, "#pop"),
            (r'[^"\\\n]+', String.Double),
            (r"\n", Whitespace, "#pop"),  # a text ends on its line
        ],
    }


class _EnglishLexer(RegexLexer):
    name = "passendezorg (English)"
    tokens = _rules("english")


class _DutchLexer(RegexLexer):
    name = "passendezorg (Nederlands)"
    tokens = _rules("nederlands")


_BY_LANGUAGE: dict[str, type[RegexLexer]] = {"english": _EnglishLexer, "nederlands": _DutchLexer}


def guess_language(text: str) -> str:
    """The keyword set of a snippet: the one its language line names, else the one most of its words are in."""
    first = re.search(r"^[ \t]*([^\s#]\w*)", text, re.M)  # the first word of the first line with code
    if first is not None and first.group(1) in {keyword_table(language)["KW_LANGUAGE"] for language in LANGUAGES}:
        declared = detect_language(text)
        if declared is not None:
            return declared
    words = re.findall(r"(?<![\w.])\w+", re.sub(r'"([^"\\\n]|\\.)*"|#[^\n]*', " ", text))
    own = {language: {w for w in keyword_table(language).values() if " " not in w} for language in LANGUAGES}
    shared = own["english"] & own["nederlands"]
    score = {language: sum(1 for w in words if w in own[language] - shared) for language in LANGUAGES}
    return "nederlands" if score["nederlands"] > score["english"] else "english"


class PassendeZorgLexer(Lexer):
    """Rule files in either keyword set."""

    name = "passendezorg"
    aliases: ClassVar[list[str]] = ["passendezorg", "pz"]
    filenames: ClassVar[list[str]] = ["*.pz"]
    mimetypes: ClassVar[list[str]] = ["text/x-passendezorg"]

    def get_tokens_unprocessed(self, text: str) -> Iterator[tuple[int, _TokenType, str]]:
        lexer = _BY_LANGUAGE[guess_language(text)](**self.options)
        yield from lexer.get_tokens_unprocessed(text)
