"""The grammar files and the keywords of each language, without lark (for formatting and messages)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["KEYWORD_KINDS", "grammar_dir", "keyword_patterns", "keyword_table", "typo_distance"]


def grammar_dir() -> Path:
    """The grammar files: inside the installed package, or at the repository root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammar", here.parent.parent / "grammar"):
        if (candidate / "passendezorg.lark").is_file():
            return candidate
    raise FileNotFoundError("the passendezorg grammar files are missing from this installation")


#: What each keyword does, for highlighters (the TextMate grammar, the Pygments lexer): a new
#: keyword needs a kind here, or the tests that regenerate the grammar fail.
KEYWORD_KINDS = {
    **dict.fromkeys(("KW_LANGUAGE", "KW_RULESET", "KW_INPUT", "KW_DERIVED", "KW_OUTPUT", "KW_PEILDATUM",
                     "KW_PARAMETER", "KW_TABLE", "KW_RULE", "KW_SCENARIO", "KW_CHANGE", "KW_REPLACE", "KW_ADD_TO",
                     "KW_SWITCH", "KW_GROUP"), "declaration"),
    **dict.fromkeys(("KW_WHEN", "KW_THEN", "KW_BECAUSE", "KW_EXCEPTION_TO", "KW_VALID_FROM", "KW_VALID_UNTIL",
                     "KW_FROM", "KW_UNTIL", "KW_DEFAULT", "KW_OFF", "KW_PER", "KW_WHERE"), "clause"),
    **dict.fromkeys(("KW_TITLE", "KW_SOURCE", "KW_URL", "KW_FILE", "KW_KEY", "KW_COLUMN", "KW_PROPOSAL",
                     "KW_FIELD"),
                    "attribute"),
    **dict.fromkeys(("KW_AND", "KW_OR", "KW_NOT", "KW_IN", "KW_NOT_IN", "KW_IS_KNOWN", "KW_IS_MISSING", "KW_IF",
                     "KW_ELSE", "KW_ROUND"), "operator"),
    **dict.fromkeys(("KW_BOOLEAN", "KW_INTEGER", "KW_DECIMAL", "KW_MONEY", "KW_DATE", "KW_TEXT", "KW_ONE_OF",
                     "KW_LIST_OF"), "type"),
    **dict.fromkeys(("KW_TRUE", "KW_FALSE", "KW_UNKNOWN", "KW_HALF_UP", "KW_HALF_EVEN", "KW_DOWN", "KW_UP",
                     "KW_TOWARDS_ZERO"), "constant"),
    **dict.fromkeys(("KW_DAYS", "KW_MONTHS", "KW_YEARS", "KW_TO_CENTS", "KW_TO_EUROS"), "unit"),
}

_keywords: dict[str, dict[str, str]] = {}
_patterns: dict[str, dict[str, str]] = {}


def keyword_patterns(language: str) -> dict[str, str]:
    """Terminal name -> the keyword's regular expression as the grammar has it (``KW_DAYS`` -> ``days?\\b``).

    For tools that must recognise every form of a keyword (highlighters), not only the written one.
    """
    if language not in _patterns:
        text = (grammar_dir() / f"keywords_{language}.lark").read_text(encoding="utf-8")
        _patterns[language] = {m.group(1): m.group(2)
                               for m in re.finditer(r"^(KW_\w+)(?:\.\d+)?:\s*/(.*)/\s*$", text, re.M)}
    return _patterns[language]


def keyword_table(language: str) -> dict[str, str]:
    """Terminal name -> the keyword as written (``KW_WHEN`` -> ``when``)."""
    if language not in _keywords:
        table: dict[str, str] = {}
        for terminal, pattern in keyword_patterns(language).items():
            word = pattern.replace(r"\b", "").replace("[ \\t]+", " ")
            word = re.sub(r"\((\w+)\|\w+\)", r"\1", word)  # (jaar|jaren) -> jaar
            word = re.sub(r"\(\w+\)\?|\w\?", lambda mm: "" if mm.group(0).startswith("(") else mm.group(0)[0], word)
            table[terminal] = word
        _keywords[language] = table
    return _keywords[language]


def typo_distance(a: str, b: str, limit: int = 2) -> int:
    """How many letters differ between two words (a swap of two neighbours counts once); ``limit + 1`` when more.

    For did-you-mean on keywords: short words, so the quadratic table is cheap.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)
