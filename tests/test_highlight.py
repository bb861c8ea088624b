"""The Pygments lexer that colours rule code on the documentation site, held to the parser.

Every token lark reads in the shipped rules and in the examples of the language
reference gets the Pygments token of its kind (each keyword of the file's language a
keyword, texts, dates and numbers theirs, a name never a keyword), and the lexer is
what Pygments finds for ```pz fences.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lark import Token
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String
from pygments.token import _TokenType as TokenType

from passendezorg.highlight import KIND_TOKENS, PassendeZorgLexer, guess_language
from passendezorg.keywords import KEYWORD_KINDS
from passendezorg.syntax import detect_language, parse_text, parser_for

ROOT = Path(__file__).resolve().parent.parent


def rule_files() -> list[tuple[str, str]]:
    from test_docs_examples import language_examples

    files = [(p.name, p.read_text(encoding="utf-8")) for p in sorted((ROOT / "rules").glob("*.pz"))]
    files += [(f"language.md:{v.line}", v.body) for ex in language_examples() for v in ex.variants
              if not parse_text(v.body)[1]]  # an example of a syntax error has tokens no grammar gives
    return files


FILES = rule_files()
EXPECTED = {
    "STRING": String.Double, "DATE": Literal.Date, "MONEY": Number, "PERCENT": Number, "DECIMAL": Number.Float,
    "INT": Number.Integer, "EQ": Operator, "COMP_OP": Operator, "ADD_OP": Operator, "MUL_OP": Operator,
}


def test_pygments_finds_the_lexer_by_its_names() -> None:
    for name in ("pz", "passendezorg"):
        assert isinstance(get_lexer_by_name(name), PassendeZorgLexer)
    assert isinstance(get_lexer_for_filename("rules/fysiotherapie.pz"), PassendeZorgLexer)


def token_types(text: str) -> list[TokenType | None]:
    kinds: list[TokenType | None] = [None] * len(text)
    for start, kind, value in PassendeZorgLexer().get_tokens_unprocessed(text):
        for i in range(start, start + len(value)):
            kinds[i] = kind
    return kinds


@pytest.mark.parametrize(("name", "text"), FILES, ids=[name for name, _ in FILES])
def test_every_token_gets_the_pygments_token_of_its_kind(name: str, text: str) -> None:
    language = detect_language(text)
    assert language is not None and guess_language(text) == language
    parsed, errors = parse_text(text)
    assert parsed is not None and not errors
    kinds = token_types(text)
    problems = [f"{name}: an error token at {i}" for i, k in enumerate(kinds) if k is not None and k in Error]
    for tok in parser_for(language).parse(text).scan_values(lambda v: isinstance(v, Token)):
        got = {kinds[i] for i in range(tok.start_pos, tok.end_pos) if not text[i].isspace()}
        where = f"{name}:{tok.line}:{tok.column} {tok.type} `{tok}`"
        if tok.type in KEYWORD_KINDS:
            want = KIND_TOKENS[KEYWORD_KINDS[tok.type]]
            if got != {want}:
                problems.append(f"{where}: wants {want}, has {got}")
        elif tok.type in EXPECTED:
            if got != {EXPECTED[tok.type]}:
                problems.append(f"{where}: wants {EXPECTED[tok.type]}, has {got}")
        elif tok.type == "NAME":
            if not all(k is not None and k in Name for k in got):
                problems.append(f"{where}: a name, has {got}")
        else:
            raise AssertionError(f"{where}: no expected token for this kind")
    for c in parsed.comments:
        offset = sum(len(line) + 1 for line in text.split("\n")[: c.line - 1]) + c.column - 1
        if {kinds[i] for i in range(offset, offset + len(c.text))} != {Comment.Single}:
            problems.append(f"{name}:{c.line}: the comment is not one")
    assert not problems, "\n".join(problems[:30])


def test_a_rule_without_a_language_line_is_read_in_the_language_of_its_words() -> None:
    """The catalogue shows a rule on its own, without the file's `taal` line."""
    dutch = 'regel r\n  "Titel"\n  uitzondering op s\n  als leeftijd >= 18 en x is bekend\n  dan y = nee\n'
    assert guess_language(dutch) == "nederlands"
    kinds = token_types(dutch)
    assert kinds[dutch.index("uitzondering op")] is Keyword
    assert kinds[dutch.index("is bekend")] in Keyword or kinds[dutch.index("is bekend")] in Operator
    assert guess_language("rule r\n  when a and b\n  then c = true\n") == "english"
    assert guess_language("# opmerking\ntaal nl\nregel r\n") == "nederlands"
    assert guess_language("language english\nrule als\n  when en\n  then dan = 1\n") == "english"
