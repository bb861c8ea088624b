"""Every example in the documentation is run, so the documentation cannot lie.

docs/language.md: each ```pz block is a complete rule file. Consecutive ```pz blocks
(the English and the Dutch tab of one example) are variants of one example. The
blocks after them belong to that example: ```csv title="data/…" (a table file),
```yaml title="Case…" (a case with an `expect` block, run with `passendezorg test`;
"Case (English)…" and "Case (Nederlands)…" run only with the variant in that keyword set),
```json title="Decision" (the exact decision for the case before it) and
```text title="check" (the exact output of `passendezorg check`). An example
whose title starts with "Rejected" must fail the check with exactly that output;
any other example must check without an error or a warning unless its `check`
output says otherwise.

A scenario: ```pz blocks titled `scenarios/<name>/<file>.pz` after an example's rule
files are that scenario's files (one per keyword set, run with the variant in the same
set); ```csv blocks titled `scenarios/…` are its tables. Cases titled "Case (scenario)…"
run under the scenario (`passendezorg test --scenario <name>`), and a ```json
title="Decision" after one is its decision under the scenario; ```text title="check
--scenario" is the exact output of `passendezorg check rules --scenario <name>` (which
must otherwise be clean).

The guides: a block titled with a file path (```pz title="rules/fysio.pz"```,
```yaml title="cases/a.yaml"```, …) writes that file into a fresh workspace when
it is reached (a title ending in " (after fmt)" instead compares the file in the
workspace with the block); a ```console block runs each `$ passendezorg …` command
there and compares the output with the lines that follow it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from passendezorg.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGUAGE = DOCS / "language.md"
GUIDES = [DOCS / "getting-started.md", DOCS / "guide" / "tutorial.md", DOCS / "guide" / "assessor.md",
          DOCS / "guide" / "scenarios.md"]

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
ATTR = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Block:
    lang: str
    title: str
    body: str
    line: int


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        info = m.group("info").strip()
        lang = info.split()[0] if info else ""
        attrs = dict(ATTR.findall(info))
        indent = m.group("indent")
        body = "".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                       for line in m.group("body").splitlines(keepends=True))
        out.append(Block(lang, attrs.get("title", ""), body, text.count("\n", 0, m.start()) + 1))
    return out


# ---------------------------------------------------------------- the language reference


@dataclass
class Example:
    variants: list[Block] = field(default_factory=list)
    files: list[Block] = field(default_factory=list)
    cases: list[Block] = field(default_factory=list)
    check: Block | None = None
    decisions: dict[int, Block] = field(default_factory=dict)  # case index -> its decision as JSON
    scenario_files: list[Block] = field(default_factory=list)  # a scenario's rule files, one per keyword set
    scenario_check: Block | None = None

    def scenario_for(self, variant: Block) -> list[Block]:
        """The scenario's files (rule files in the keyword set of ``variant``)."""
        from passendezorg.syntax import detect_language

        return [b for b in self.scenario_files if detect_language(b.body) == detect_language(variant.body)]

    @property
    def scenario(self) -> str | None:
        return self.scenario_files[0].title.split("/")[1] if self.scenario_files else None

    @property
    def rejected(self) -> bool:
        return self.variants[0].title.startswith("Rejected")


def language_examples() -> list[Example]:
    examples: list[Example] = []
    current: Example | None = None
    for b in blocks(LANGUAGE):
        if b.lang == "pz" and b.title.startswith("scenarios/"):
            assert current is not None, f"language.md:{b.line}: a scenario before any rule book"
            current.scenario_files.append(b)
            continue
        if b.lang == "pz":
            if current is None or current.files or current.cases or current.check is not None or \
                    current.scenario_files:
                current = Example()
                examples.append(current)
            current.variants.append(b)
            continue
        if b.lang == "text" and b.title == "Syntax":
            continue  # a summary of the grammar, not an example
        assert current is not None, f"language.md:{b.line}: a ```{b.lang} block before any example"
        if b.lang == "csv" and b.title:
            current.files.append(b)
        elif b.lang == "yaml" and b.title.startswith("Case"):
            current.cases.append(b)
        elif b.lang == "text" and b.title == "check":
            current.check = b
        elif b.lang == "text" and b.title == "check --scenario":
            current.scenario_check = b
        elif b.lang == "json" and b.title == "Decision" and current.cases:
            current.decisions[len(current.cases) - 1] = b
        else:
            raise AssertionError(f"language.md:{b.line}: a ```{b.lang} block that no test runs; "
                                 "use pz, csv title=…, yaml title=\"Case…\", json title=\"Decision\" or text title=\"check\"")
    return examples


def _variants() -> Iterator[tuple[Example, Block]]:
    for ex in language_examples():
        for v in ex.variants:
            yield ex, v


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


@pytest.mark.parametrize(("example", "variant"), list(_variants()),
                         ids=[f"language.md:{v.line}" for _, v in _variants()])
def test_language_example(example: Example, variant: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules"
    (rules / (variant.title if variant.title.endswith(".pz") else "example.pz")).parent.mkdir(parents=True)
    name = variant.title if variant.title.endswith(".pz") else "example.pz"
    (rules / name).write_text(variant.body, encoding="utf-8")
    assert not example.scenario_files or example.scenario_for(variant), \
        f"language.md:{variant.line}: the scenario has no file in this variant's keyword set"
    for f in [*example.files, *example.scenario_for(variant)]:
        target = (tmp_path if f.title.startswith("scenarios/") else rules) / f.title
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.body, encoding="utf-8")
    code, out = run(["check", "rules"])
    if example.check is not None:
        assert normal(out) == normal(example.check.body), f"language.md:{example.check.line}: check output differs"
    else:
        assert code == 0 and "0 error(s), 0 warning(s)" in out, f"language.md:{variant.line}:\n{out}"
    if example.rejected:
        assert code == 1, f"language.md:{variant.line}: a rejected example passed the check"
        assert not example.cases
        return
    assert code == 0, out
    scenario = example.scenario
    if scenario is not None:
        code, out = run(["check", "rules", "--scenario", scenario])
        if example.scenario_check is not None:
            assert normal(out) == normal(example.scenario_check.body), \
                f"language.md:{example.scenario_check.line}: check --scenario output differs"
            errors = int(re.search(r"(\d+) error\(s\)", out).group(1))  # type: ignore[union-attr]
            assert code == (1 if errors else 0)
            assert not errors or not any(c.title.startswith("Case (scenario)") for c in example.cases)
        else:
            assert code == 0 and "0 error(s), 0 warning(s)" in out, f"language.md:{variant.line}:\n{out}"
    if example.cases:
        language = "nederlands" if variant.body.lstrip().startswith("taal") else "english"
        folders = {False: tmp_path / "cases", True: tmp_path / "scenario-cases"}
        where: dict[int, bool] = {}
        for i, c in enumerate(example.cases):
            if c.title.startswith(("Case (English)", "Case (Nederlands)")) and \
                    not c.title.lower().startswith(f"case ({language}"):
                continue  # a case for the other variant's names
            assert "expect:" in c.body, f"language.md:{c.line}: a case without `expect` tests nothing"
            under = c.title.startswith("Case (scenario)")
            assert not under or scenario is not None, f"language.md:{c.line}: a scenario case without a scenario"
            folders[under].mkdir(exist_ok=True)
            (folders[under] / f"case{i:02}.yaml").write_text(c.body, encoding="utf-8")
            where[i] = under
        for under, folder in folders.items():
            if not folder.is_dir():
                continue
            extra = ["--scenario", str(scenario)] if under else []
            code, out = run(["test", "--rules", "rules", *extra, str(folder)])
            assert code == 0, f"language.md:{example.variants[0].line}:\n{out}"
            assert f"{len(list(folder.iterdir()))} passed" in out
        # a decision names the rule book by the hash of its files: it is the first variant's
        for i, b in (example.decisions.items() if variant is example.variants[0] else ()):
            extra = ["--scenario", str(scenario)] if where[i] else []
            code, out = run(["evaluate", "--rules", "rules", *extra, "--format", "json",
                             str(folders[where[i]] / f"case{i:02}.yaml")])
            assert code == 0, out
            assert json.loads(out) == json.loads(b.body), f"language.md:{b.line}: the decision differs:\n{out}"


def test_every_construct_has_an_example() -> None:
    """Every kind of declaration and every keyword appears in a checked example."""
    examples = language_examples()
    assert len(examples) >= 20
    text = "\n".join(v.body for ex in examples for v in [*ex.variants, *ex.scenario_files] if not ex.rejected)
    for language in ("english", "nederlands"):
        for terminal, pattern in keywords(language).items():
            assert re.search(rf"(?<!\w){pattern}", text), f"no example uses {terminal} ({language}: {pattern})"
    from passendezorg.check import FUNCTIONS

    for language, functions in FUNCTIONS.items():
        for f in functions:
            assert re.search(rf"\b{f}\(", text), f"no example calls {f}() ({language})"


def test_every_grammar_rule_and_token_has_an_example() -> None:
    """Every rule of the grammar that shows in a parse tree, and every named token, occurs in an example, per keyword set.

    (Rules that the grammar inlines, and punctuation, leave no trace in a tree and are not counted.)
    """
    from lark import Token

    from passendezorg.syntax import detect_language, parser_for

    seen: dict[str, set[str]] = {"english": set(), "nederlands": set()}
    for ex in language_examples():
        if ex.rejected:
            continue
        for v in [*ex.variants, *ex.scenario_files]:
            language = detect_language(v.body)
            assert language in seen, f"language.md:{v.line}: no `language`/`taal` line"
            for tree in parser_for(language).parse(v.body).iter_subtrees():
                seen[language].add(str(tree.data))
                seen[language].update(c.type for c in tree.children if isinstance(c, Token))
    for language, used in seen.items():
        parser = parser_for(language)
        rules = {str(r.alias or r.origin.name) for r in parser.rules}
        tokens = {t.name for t in parser.terminals if not t.pattern.raw or t.name.isupper()}
        # what a tree can show: rule names and aliases that are not inlined (`?rule`, `_rule`), named tokens
        shown = {name for name in rules | tokens if not name.startswith("_") and name not in INVISIBLE}
        missing = sorted(shown - used)
        assert not missing, f"no {language} example uses {missing}"


# names that never appear in a parse tree: rules inlined by `?` when they have one child, punctuation, whitespace
INVISIBLE = {"expr", "or_expr", "and_expr", "not_expr", "test", "sum", "product", "unary", "atom", "literal",
             "param_literal", "type_expr", "validity", "COLON", "COMMA", "DOT", "LPAR", "RPAR", "LSQB", "RSQB", "WS",
             "COMMENT"}


def keywords(language: str) -> dict[str, str]:
    """KW_* terminal -> its regular expression, from the grammar's keyword file."""
    path = ROOT / "grammar" / f"keywords_{language}.lark"
    out = {}
    for m in re.finditer(r"^(KW_\w+)(?:\.\d+)?:\s*/(.*)/\s*$", path.read_text(encoding="utf-8"), re.M):
        out[m.group(1)] = m.group(2).replace("[ \\t]+", " ")
    return out


def test_keyword_table_matches_the_grammar() -> None:
    """The table of keywords in the reference has a row for every keyword, in both sets."""
    text = LANGUAGE.read_text(encoding="utf-8")
    text = text[text.index("### The keywords"):]
    text = text[:text.index("\n## ")]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", text, re.M)
    assert rows, "no keyword table in language.md"
    english, dutch = keywords("english"), keywords("nederlands")
    seen = set()
    for en, nl in rows:
        matching = [t for t, p in english.items() if all(re.fullmatch(p.replace("\\b", ""), w.strip())
                                                       for w in en.split(" / "))]
        assert matching, f"`{en}` is not an English keyword"
        # `not in` also matches `not` followed by more: take the most specific terminal
        terminal = max(matching, key=lambda t: len(english[t]))
        for w in nl.split(" / "):
            assert re.fullmatch(dutch[terminal].replace("\\b", ""), w.strip()), f"`{w}` is not Dutch for `{en}`"
        seen.add(terminal)
    assert seen == set(english), f"keywords missing from the table: {sorted(set(english) - seen)}"


# ---------------------------------------------------------------- the guides


EXPECTED = " (after fmt)"


def sessions(path: Path) -> Iterator[tuple[str, Block]]:
    for b in blocks(path):
        if b.lang == "console":
            yield "run", b
        elif "/" in b.title or re.search(r"\.(pz|csv|ya?ml|json|jsonl)$", b.title):
            yield "file", b


@pytest.mark.parametrize("page", GUIDES, ids=lambda p: str(p.relative_to(DOCS)))
def test_guide_sessions(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PASSENDEZORG_RULES", raising=False)
    monkeypatch.delenv("PASSENDEZORG_SCENARIOS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    ran = 0
    for kind, b in sessions(page):
        if kind == "file" and b.title.endswith(EXPECTED):
            target = tmp_path / b.title[: -len(EXPECTED)]
            assert target.read_text(encoding="utf-8") == b.body, f"{page.name}:{b.line}: {target.name} differs"
            continue
        if kind == "file":
            target = tmp_path / b.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(b.body, encoding="utf-8")
            continue
        for command, expected, line in commands(b):
            words = shlex.split(command)
            assert words[0] == "passendezorg", f"{page.name}:{line}: only passendezorg commands are run: {command}"
            _, out = run(words[1:])
            assert normal(out) == normal(expected), f"{page.name}:{line}: `{command}` printed:\n{out}"
            ran += 1
    pages_with_sessions = {"tutorial.md", "assessor.md", "scenarios.md"}
    if page.name in pages_with_sessions:
        assert ran >= 3


def commands(b: Block) -> Iterator[tuple[str, str, int]]:
    command: str | None = None
    out: list[str] = []
    line = b.line
    for i, text in enumerate(b.body.splitlines()):
        if text.startswith("$ "):
            if command is not None:
                yield command, "\n".join(out), line
            command, out, line = text[2:], [], b.line + 1 + i
        else:
            out.append(text)
    if command is not None:
        yield command, "\n".join(out), line
