"""The TextMate grammar of the VS Code extension, run by a real TextMate engine over real rule files.

The engine is babi's (a TextMate implementation on Oniguruma, the regular expressions
VS Code's engine uses). The truth to hold it to is the parser: every token lark reads in
the shipped rules and in the examples of the language reference must get the scope of
its kind — each keyword of the file's language a keyword scope, texts, dates, amounts
and numbers theirs, a name never a keyword's — and nothing but white space is left
without a scope. The committed grammar must be what scripts/gen_textmate.py writes
from the keyword files.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from babi.highlight import Compiler, Grammars, highlight_line
from lark import Token

from passendezorg.keywords import KEYWORD_KINDS
from passendezorg.syntax import detect_language, parse_text, parser_for

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "passendezorg.tmLanguage.json"

Scopes = tuple[str, ...]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_textmate", ROOT / "scripts" / "gen_textmate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def test_the_committed_grammar_is_up_to_date_with_the_keyword_files() -> None:
    assert GRAMMAR.read_text(encoding="utf-8") == GEN.render(), \
        "the TextMate grammar differs from the keyword files: run scripts/gen_textmate.py"


@pytest.fixture(scope="module")
def compiler(tmp_path_factory: pytest.TempPathFactory) -> Compiler:
    folder = tmp_path_factory.mktemp("grammars")
    shutil.copy(GRAMMAR, folder / "source.passendezorg.json")  # babi finds a grammar by its scope name
    return Grammars(str(folder)).compiler_for_scope("source.passendezorg")


def tokenise(compiler: Compiler, text: str) -> list[list[Scopes]]:
    """The scopes of every character, line by line, as the engine gives them."""
    state = compiler.root_state
    out = []
    for i, line in enumerate(text.split("\n")):
        state, regions = highlight_line(compiler, state, line + "\n", i == 0)
        scopes: list[Scopes] = [()] * len(line)
        for region in regions:
            for c in range(region.start, min(region.end, len(line))):
                scopes[c] = region.scope
        out.append(scopes)
    return out


def expected_scope(token_type: str) -> str | None:
    if token_type in KEYWORD_KINDS:
        return GEN.KIND_SCOPES[KEYWORD_KINDS[token_type]] + ".passendezorg"
    return {
        "STRING": "string.quoted.double.passendezorg",
        "DATE": "constant.numeric.date.passendezorg",
        "MONEY": "constant.numeric.money.passendezorg",
        "PERCENT": "constant.numeric.percentage.passendezorg",
        "DECIMAL": "constant.numeric.decimal.passendezorg",
        "INT": "constant.numeric.integer.passendezorg",
        "EQ": "keyword.operator.comparison.passendezorg",
        "COMP_OP": "keyword.operator.comparison.passendezorg",
        "ADD_OP": "keyword.operator.arithmetic.passendezorg",
        "MUL_OP": "keyword.operator.arithmetic.passendezorg",
    }.get(token_type)


NOT_FOR_NAMES = ("keyword.", "storage.type.", "constant.language.", "constant.numeric.", "string.", "comment.")


def rule_files() -> Iterator[tuple[str, str]]:
    """The shipped rules and scenarios (Dutch) and every example of the language reference (English and Dutch)."""
    for path in sorted((ROOT / "rules").glob("*.pz")):
        yield path.name, path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "scenarios").glob("*/*.pz")):
        yield f"scenarios/{path.parent.name}/{path.name}", path.read_text(encoding="utf-8")
    from test_docs_examples import language_examples

    for example in language_examples():
        for variant in [*example.variants, *example.scenario_files]:
            if not parse_text(variant.body)[1]:  # an example of a syntax error has tokens no grammar gives
                yield f"language.md:{variant.line}", variant.body


FILES = list(rule_files())


def test_the_files_cover_both_languages_and_every_keyword() -> None:
    seen = {(detect_language(text), t.type) for _, text in FILES if detect_language(text)
            for t in parser_for(detect_language(text) or "english").parse(text).scan_values(
                lambda v: isinstance(v, Token))}
    for language in ("english", "nederlands"):
        assert {t for lang, t in seen if lang == language} >= set(KEYWORD_KINDS), language


@pytest.mark.parametrize(("name", "text"), FILES, ids=[name for name, _ in FILES])
def test_every_token_gets_the_scope_of_its_kind(compiler: Compiler, name: str, text: str) -> None:
    language = detect_language(text)
    assert language is not None
    parsed, errors = parse_text(text)
    assert parsed is not None and not errors
    scopes = tokenise(compiler, text)
    problems = []
    tokens = list(parser_for(language).parse(text).scan_values(lambda v: isinstance(v, Token)))
    assert tokens
    for tok in tokens:
        line = scopes[tok.line - 1]
        chars = [c for c in range(tok.column - 1, tok.end_column - 1) if not text.split("\n")[tok.line - 1][c].isspace()]
        got = {s for c in chars for s in line[c]}
        want = expected_scope(tok.type)
        where = f"{name}:{tok.line}:{tok.column} {tok.type} `{tok}`"
        if want is not None:
            if not all(want in line[c] for c in chars):
                problems.append(f"{where}: wants {want}, has {sorted(got)}")
        elif tok.type == "NAME":
            wrong = sorted(s for s in got if s.startswith(NOT_FOR_NAMES))
            if wrong or not all(len(line[c]) > 1 for c in chars):
                problems.append(f"{where}: a name, scoped {sorted(got)}")
        else:
            raise AssertionError(f"{where}: no expected scope for this kind of token")
    for comment in parsed.comments:
        line = scopes[comment.line - 1]
        if not all("comment.line.number-sign.passendezorg" in line[c]
                   for c in range(comment.column - 1, comment.column - 1 + len(comment.text))):
            problems.append(f"{name}:{comment.line}:{comment.column}: the comment is not scoped as one")
    for number, (source, line_scopes) in enumerate(zip(text.split("\n"), scopes), start=1):
        for c, ch in enumerate(source):
            if not ch.isspace() and len(line_scopes[c]) < 2:
                problems.append(f"{name}:{number}:{c + 1}: `{ch}` has no scope")
    assert not problems, "\n".join(problems[:30])


def scope_of(compiler: Compiler, text: str, needle: str, line: int = -1) -> set[str]:
    """The scopes the characters of ``needle`` share, where it first stands on the given line."""
    lines = text.split("\n")
    index = line if line >= 0 else next(i for i, t in enumerate(lines) if needle in t)
    start = lines[index].index(needle)
    scopes = tokenise(compiler, text)[index]
    return set.intersection(*(set(scopes[c]) for c in range(start, start + len(needle))))


@pytest.mark.parametrize(("text", "needle", "scope"), [
    ("taal nederlands\nregel r\n  uitzondering   op basis\n", "uitzondering   op", "keyword.control.passendezorg"),
    ("taal nederlands\nregel r\n  uitzondering op basis\n", "basis", "entity.name.function.rule.passendezorg"),
    ("taal nederlands\nparameter p : bedrag\n  vanaf 2024-01-01 = € 12,34\n", "€ 12,34",
     "constant.numeric.money.passendezorg"),
    ("taal nederlands\nparameter p : bedrag\n  vanaf 2024-01-01 = € 12,34\n", "2024-01-01",
     "constant.numeric.date.passendezorg"),
    ("taal nederlands\nafgeleid d : datum\n  = behandeling.datum + 2 jaar\n", "jaar", "keyword.other.unit.passendezorg"),
    ("taal nederlands\nafgeleid j : geheel getal\n  = jaar(behandeling.datum)\n", "jaar",
     "support.function.builtin.passendezorg"),
    ("taal nederlands\nafgeleid j : geheel getal\n  = jaar(behandeling.datum)\n", "datum", "variable.other.passendezorg"),
    ("taal nederlands\nuitvoer x : janee \"een # is geen opmerking\"  # wel\n", "# is", "string.quoted.double.passendezorg"),
    ("taal nederlands\nuitvoer x : janee \"een # is geen opmerking\"  # wel\n", "# wel",
     "comment.line.number-sign.passendezorg"),
    ("# een opmerking eerst\n\ntaal nederlands\nregel r\n  als x is bekend\n", "is bekend",
     "keyword.operator.word.passendezorg"),
    ("taal nederlands\nregel r\n  als x is bekend\n", "als", "keyword.control.passendezorg"),
    ("rule r\n  when x is known and y > 3 days\n", "is known", "keyword.operator.word.passendezorg"),
    ("rule r\n  when x is known and y > 3 days\n", "days", "keyword.other.unit.passendezorg"),
    ("language english\ninput a : one of x, y\n", "one of", "storage.type.passendezorg"),
    ("taal nederlands\ninvoer a : een van x, y\n", "een van", "storage.type.passendezorg"),
    ("taal nederlands\nregel r\n  geldig tot en met 2024-12-31\n", "geldig tot en met", "keyword.control.passendezorg"),
    ("taal nederlands\nregel r\n  als a niet in [b]\n", "niet in", "keyword.operator.word.passendezorg"),
])
def test_constructs(compiler: Compiler, text: str, needle: str, scope: str) -> None:
    assert scope in scope_of(compiler, text, needle)


def test_a_file_keeps_to_its_own_language(compiler: Compiler) -> None:
    """`when` is a name in a Dutch file, and `als` in an English one."""
    dutch = "taal nederlands\nregel r\n  als when = 1\n"
    assert "keyword.control.passendezorg" not in scope_of(compiler, dutch, "when")
    english = "rule r\n  when als = 1\n"
    assert "keyword.control.passendezorg" not in scope_of(compiler, english, "als")
    assert "keyword.control.passendezorg" in scope_of(compiler, english, "when")
