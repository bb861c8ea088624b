"""The grammar files and the keywords of each language, without lark (for formatting and messages)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["grammar_dir", "keyword_patterns", "keyword_table"]


def grammar_dir() -> Path:
    """The grammar files: inside the installed package, or at the repository root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammar", here.parent.parent / "grammar"):
        if (candidate / "passendezorg.lark").is_file():
            return candidate
    raise FileNotFoundError("the passendezorg grammar files are missing from this installation")


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
