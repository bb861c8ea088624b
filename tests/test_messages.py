"""Diagnostics in Dutch for Dutch files: every message the checker and the parser can give has its Dutch form.

Two ways, so that a new message cannot slip through: every message text written in the checker's
and parser's code (read from the source, as the golden test reads the diagnostic codes), and every
diagnostic, hint and note the golden bad files and the rule books below actually produce.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from passendezorg import check_path
from passendezorg.cli import main
from passendezorg.errors import Diagnostic
from passendezorg.messages import dutch_form, translate
from passendezorg.source import Span

TESTS = Path(__file__).resolve().parent
BAD = TESTS / "golden" / "bad"
SRC = TESTS.parent / "src" / "passendezorg"


# ---------------------------------------------------------------- the texts written in the code


def _shape(node: ast.expr) -> str | None:
    """A string or f-string as a template shape: every `{…}` part as `{}`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)  # type: ignore[misc]
    return None


def _texts(node: ast.expr) -> list[str]:
    """The texts an argument can be: a string, or either side of `a or b` and `a if c else b`."""
    shape = _shape(node)
    if shape is not None:
        return [shape]
    if isinstance(node, ast.BoolOp):
        return [t for v in node.values for t in _texts(v)]
    if isinstance(node, ast.IfExp):
        return _texts(node.body) + _texts(node.orelse)
    return []


def _written_messages(path: Path) -> list[tuple[int, str]]:
    """Messages, hints and notes as the code writes them: arguments of error(), warn(), Diagnostic() and
    ValueError(), texts given to `message` and `hint`, notes in `related` pairs, and the words for types and tokens."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []

    def add(node: ast.expr) -> None:
        found.extend((node.lineno, t) for t in _texts(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            args = list(node.args)
            if name.endswith((".error", ".warn")) and name.split(".")[0] in ("self", "ov", "overlay"):
                for a in args[1:2] + args[3:4]:
                    add(a)
            elif name == "Diagnostic":
                for a in args[2:3] + args[4:5]:
                    add(a)
            elif name == "ValueError" and path.name == "check.py":  # a table cell's reason
                for a in args[:1]:
                    add(a)
            for kw in node.keywords:
                if kw.arg in ("hint", "message"):
                    add(kw.value)
                if kw.arg == "related" and isinstance(kw.value, ast.Tuple):
                    for pair in kw.value.elts:
                        if isinstance(pair, ast.Tuple):
                            add(pair.elts[0])
            for a in args:  # positional `related` pairs: (("note", span),)
                if isinstance(a, ast.Tuple) and all(isinstance(p, ast.Tuple) and len(p.elts) == 2 for p in a.elts):
                    for pair in a.elts:
                        add(pair.elts[0])  # type: ignore[attr-defined]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in ("message", "hint")
                                                  for t in node.targets):
            add(node.value)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_TOKEN_WORDS"
                                                  for t in node.targets):
            assert isinstance(node.value, ast.Dict)
            for v in node.value.values:
                add(v)
        elif isinstance(node, ast.FunctionDef) and node.name == "type_name":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Dict):
                    for v in sub.values:
                        add(v)
    return found


def _covered(shape: str) -> bool:
    """The text has a Dutch form whatever its parts are (a part stands in as a name, `x1`)."""
    if not re.search(r"[A-Za-z]{2}", re.sub(r"`[^`]*`|\{\}", "", shape)):
        return True  # no words to translate: `=`, a name, a value
    return dutch_form(shape.replace("{}", "x1")) is not None


@pytest.mark.parametrize("module", ["check.py", "syntax.py", "rulebook.py", "scenario.py"])
def test_every_message_written_in_the_code_has_a_dutch_form(module: str) -> None:
    """A new `self.error(…)` in the checker needs one line in messages.DUTCH; this names the one that lacks it."""
    written = _written_messages(SRC / module)
    assert len(written) >= (60 if module == "check.py" else 1)
    missing = sorted({f"{module}:{line}: {text!r}" for line, text in written if not _covered(text)})
    assert missing == [], "no Dutch form in messages.DUTCH for:\n" + "\n".join(missing)


# ---------------------------------------------------------------- the diagnostics the checker gives


def _cases() -> list[Path]:
    return sorted([p for p in BAD.glob("*.pz")] + [p for p in BAD.iterdir() if p.is_dir() and p.name != "data"])


MORE = {
    # rule books for messages no golden file shows: each gives at least one diagnostic
    "functions": """
        input d : date
        input n : integer
        input xs : list of integer
        peildatum d
        derived a : integer
          = age(d) + round(d) + count(n) + abs(d) + min(n) + max(n, d) + frobnicate(n)
        derived b : integer
          = max(d, n)
        """,
    "tables": """
        input d : date
        input code : text
        peildatum d
        output o : money
          default € 0,00
        table t
          file "t.csv"
          key code, n
          column code : text
          column n : integer
          column amount : money
        rule r
          source "s"
          when code in t and (code, 1, 2) in t and 3 in t and code in 5
          then o = t[code].amount + t[code, "x"].amount + t[code, 1].price + u[code].amount
        """,
    "assigning": """
        input d : date
        input i : integer
        peildatum d
        parameter p : integer
          from 2020-01-01 = 1  source "s"
          from 2020-01-01 = 2  source "s"
        derived x : integer
          = 1
        rule r1
          source "s"
          then i = 2
        rule r2
          source "s"
          then p = 2
        rule r3
          source "s"
          then x = 2
        rule r4
          source "s"
          then nothing = 1
        rule r5
          source "s"
          when i > 1
          when i > 2
          then x = 3
        """,
    "expressions": """
        input d : date
        input t : text
        input kind : one of a, b, a
        input i : integer
        peildatum d
        output o : boolean
          default d
        rule r
          source "s"
          when (i and t) and not i and -t > 1 and t > "x" and t is known and 3 is known and [1, "x"] = [1]
            and i in [1, 2] and t in ["a", i] and d + 3 > d and (d, 1) = 2
          then o = true
        """,
}


def _diagnostics() -> list[Diagnostic]:
    found = []
    for path in _cases():
        found.extend(check_path(path).diagnostics)
    return found


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> list[Diagnostic]:
    import textwrap

    found = _diagnostics()
    for name, text in MORE.items():
        root = tmp_path_factory.mktemp(name)
        (root / "rules.pz").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        (root / "t.csv").write_text("code,n,amount\nA,1,1.00\n", encoding="utf-8")
        diagnostics = check_path(root).diagnostics
        assert diagnostics, name
        found.extend(diagnostics)
    return found


def test_every_diagnostic_the_checker_gives_has_a_dutch_form(produced: list[Diagnostic]) -> None:
    missing = []
    for d in produced:
        for text in (d.message, d.hint, *(note for note, _ in d.related)):
            if text is not None and dutch_form(text) is None:
                missing.append(f"{d.span}: {text!r}")
    assert len(produced) >= 100
    assert missing == [], "no Dutch form in messages.DUTCH for:\n" + "\n".join(sorted(set(missing)))


def test_the_dutch_forms_leave_no_english_words_behind(produced: list[Diagnostic]) -> None:
    """Parts built from English pieces (types, reasons, lists of what was expected) are translated too."""
    english = re.compile(r"\b(the|of an?|an|not|but|this|must|expected|cannot|rule|value|with|and|or)\b")
    left = []
    for d in produced:
        for text in (d.message, d.hint):
            if text is None:
                continue
            dutch = dutch_form(text) or ""
            outside_code = re.sub(r"`[^`]*`|\"[^\"]*\"|\([^)]*--on\)", "", dutch)
            if english.search(outside_code):
                left.append(f"{text!r} -> {dutch!r}")
    assert left == []


# ---------------------------------------------------------------- how they are shown


def test_a_dutch_file_gets_dutch_messages_and_english_stays_in_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    result = CliRunner().invoke(main, ["check", "nl_checks.pz", "--format", "json"])
    first = json.loads(result.stdout)["diagnostics"][0]
    assert first["language"] == "nederlands"
    assert first["message"] == "`vuling` is geen gedeclareerde naam en ook geen van de keuzes: controle, vulling, kroon"
    assert first["message_en"] == "`vuling` is not a declared name, nor one of the choices: controle, vulling, kroon"
    assert (first["hint"], first["hint_en"]) == ("bedoelt u `vulling`?", "did you mean `vulling`?")
    assert (first["line"], first["column"], first["end_line"], first["end_column"]) == (26, 27, 26, 33)


def test_render_in_another_language_on_request() -> None:
    d = Diagnostic("warning", "overlap", "rules `a` and `b` both decide `x`, can both apply, and are not related by "
                   "an exception", Span("f.pz", 3, 1), "did you mean `y`?", (("the other rule", Span("f.pz", 1, 1)),),
                   language="nederlands")
    dutch = d.render()
    assert "regels `a` en `b` bepalen allebei `x`" in dutch
    assert "  zie ook: de andere regel (f.pz:1:1)" in dutch and "  tip: bedoelt u `y`?" in dutch
    assert d.render(language="english").splitlines()[1:] == ["  note: the other rule (f.pz:1:1)",
                                                             "  hint: did you mean `y`?"]
    assert d.message.startswith("rules `a`")  # the structured value keeps English


def test_a_text_without_a_dutch_form_is_shown_as_it_is() -> None:
    assert translate("something new", "nederlands") == "something new"
    assert translate("unknown name `x`", "english") == "unknown name `x`"
    assert dutch_form("expected one of `=`, a name, `+` or `-`, …") == "verwacht werd een van: `=`, een naam, `+` of `-`, …"
    assert dutch_form("cannot compare a list of money with a choice (a, b)") == \
        "een lijst van bedrag is niet te vergelijken met een keuze (a, b)"
    assert dutch_form("unknown name `a`; did you mean `b`?") == "onbekende naam `a`; bedoelt u `b`?"
