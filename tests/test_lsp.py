"""The language server, driven by a real LSP client over JSON-RPC on a `passendezorg lsp` subprocess.

A rule file with an error gets its diagnostic at the right place, while typing and with
the other files of its rule book; hover, go to definition and references work on the
shipped rules; completion offers the keywords of the file's own language; formatting
gives what `passendezorg fmt` writes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import pytest_lsp
from click.testing import CliRunner
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from passendezorg.cli import main
from passendezorg.format import format_file
from passendezorg.syntax import parse_text

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
SERVER = [sys.executable, "-m", "passendezorg", "lsp"]

in_server_loop = pytest.mark.asyncio(loop_scope="module")  # the tests share one server


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
        root_uri=ROOT.as_uri(),
    ))
    yield
    await lsp_client.shutdown_session()


def open_file(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.resolve().as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="passendezorg", version=1,
        text=text if text is not None else path.read_text(encoding="utf-8"))))
    return uri


async def diagnostics(client: LanguageClient, uri: str) -> Sequence[lsp.Diagnostic]:
    """The next diagnostics published for ``uri`` (after the caller forgot the last ones)."""

    async def wait() -> Sequence[lsp.Diagnostic]:
        while uri not in client.diagnostics:
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return client.diagnostics[uri]

    return await asyncio.wait_for(wait(), 30)


def position(text: str, needle: str, occurrence: int = 0, offset: int = 1) -> lsp.Position:
    """Where the ``occurrence``-th ``needle`` stands (0-based), ``offset`` characters into it."""
    starts = [m.start() for m in re.finditer(re.escape(needle), text)]
    start = starts[occurrence] + offset
    line = text.count("\n", 0, start)
    return lsp.Position(line=line, character=start - (text.rfind("\n", 0, start) + 1))


# ---------------------------------------------------------------- diagnostics


@in_server_loop
async def test_a_file_with_an_error_gets_its_diagnostic_and_loses_it_when_fixed(
        client: LanguageClient, tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "declaraties.pz").write_text(
        "taal nederlands\ninvoer behandeling.datum : datum\ninvoer behandeling.zitting : geheel getal\n"
        "peildatum behandeling.datum\nuitvoer verzekerd : janee\n  standaard nee\n", encoding="utf-8")
    good = 'taal nederlands\nregel r\n  bron "Bzv 2.6"\n  als behandeling.zitting > 20\n  dan verzekerd = ja\n'
    rules = book / "regels.pz"
    rules.write_text(good, encoding="utf-8")
    # the error is only in the editor: the file on disk is fine
    typed = good.replace("behandeling.zitting > 20", "behandeling.ziting > 20")
    uri = open_file(client, rules, typed)
    (d,) = await diagnostics(client, uri)
    # a Dutch file gets its messages in Dutch, as `check` shows them
    assert d.message == "onbekende naam `behandeling.ziting`\ntip: bedoelt u `behandeling.zitting`?"
    assert (d.severity, d.code, d.source) == (lsp.DiagnosticSeverity.Error, "unknown-name", "passendezorg")
    assert d.range == lsp.Range(start=lsp.Position(line=3, character=6), end=lsp.Position(line=3, character=24))

    # typing a fix clears it (the name is declared in the other file, which is not open)
    client.diagnostics.pop(uri)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=good)]))
    assert list(await diagnostics(client, uri)) == []

    # a syntax error, with a multi-byte character before it on the line (positions are in UTF-16 units)
    client.diagnostics.pop(uri)
    broken = good.replace('  bron "Bzv 2.6"', '  bron "Bzv 2.6 — €"  +')
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=broken)]))
    (d,) = await diagnostics(client, uri)
    assert d.code == "syntax" and d.message.startswith("`+` is hier niet verwacht")
    assert d.range.start == lsp.Position(line=2, character=broken.splitlines()[2].index("+"))
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))


@in_server_loop
async def test_while_typing_the_last_text_is_checked(client: LanguageClient, tmp_path: Path) -> None:
    path = tmp_path / "typing.pz"
    uri = open_file(client, path, "output x : integer\n  default 1\n")
    assert list(await diagnostics(client, uri)) == []
    client.diagnostics.pop(uri)
    for version, word in enumerate(("tru", "true", "1 +", "2"), start=2):  # keystrokes faster than the pause
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=f"output x : integer\n  default {word}\n")]))
    assert list(await diagnostics(client, uri)) == []  # checked once, on the last text
    await asyncio.sleep(0.5)
    assert list(client.diagnostics[uri]) == []


@in_server_loop
async def test_an_error_in_one_file_that_another_file_causes_is_shown_with_the_other_place(
        client: LanguageClient, tmp_path: Path) -> None:
    book = tmp_path / "dup"
    book.mkdir()
    (book / "a.pz").write_text("output x : integer\n  default 1\n", encoding="utf-8")
    b = book / "b.pz"
    b.write_text("input d : date\n", encoding="utf-8")
    uri = open_file(client, b, "input d : date\noutput x : integer\n  default 2\n")
    (d,) = await diagnostics(client, uri)
    assert d.message.startswith("output `x` is declared twice")
    (note,) = d.related_information or []
    assert note.message == "first declared here"
    assert note.location.uri == (book / "a.pz").resolve().as_uri() and note.location.range.start.line == 0


# ---------------------------------------------------------------- the shipped rules


@in_server_loop
async def test_hover_on_the_shipped_rules(client: LanguageClient) -> None:
    text = (RULES / "fysiotherapie.pz").read_text(encoding="utf-8")
    uri = open_file(client, RULES / "fysiotherapie.pz", text)
    # a rule named in `uitzondering op`: its title, its source with the url, and its exceptions
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=position(text, "uitzondering op fysio_kind_na_18_behandelingen", offset=20)))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    value = hover.contents.value
    line = text[:text.index("regel fysio_kind_na_18_behandelingen")].count("\n") + 1
    assert value.startswith(f"**regel** `fysio_kind_na_18_behandelingen` — gedeclareerd in `rules/fysiotherapie.pz:{line}`")
    assert "*Kinderen: ten hoogste 9 behandelingen per aandoening per kalenderjaar, en zo nodig nog 9*" in value
    assert "https://wetten.overheid.nl/BWBR0018492/2026-01-01#Artikel2.6" in value
    assert "Uitzonderingen hierop: `fysio_kind_chronisch`" in value
    assert hover.range is not None and hover.range.start.line == text[:text.index("uitzondering op fysio_kind_na")].count("\n")

    # a derived value declared in another file: its type and description
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position(text, "en leeftijd < 18", offset=4)))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    assert hover.contents.value.startswith("**afgeleid** `leeftijd` — gedeclareerd in `rules/algemeen.pz:")
    assert "afgeleid leeftijd : geheel getal" in hover.contents.value

    # a parameter: its periods with their sources, and the value in force today
    text = (RULES / "eigen_risico.pz").read_text(encoding="utf-8")
    uri = open_file(client, RULES / "eigen_risico.pz", text)
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=position(text, "= verplicht_eigen_risico", offset=3)))
    assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
    value = hover.contents.value
    assert "| vanaf 2019-01-01 tot en met 2026-12-31 | € 385,00 |" in value
    assert "Vandaag van kracht" in value or "Vandaag is geen waarde van kracht" in value

    # nothing to say about a keyword
    assert await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=0, character=1))) is None


@in_server_loop
async def test_go_to_definition_across_files(client: LanguageClient) -> None:
    text = (RULES / "fysiotherapie.pz").read_text(encoding="utf-8")
    uri = open_file(client, RULES / "fysiotherapie.pz", text)
    algemeen = (RULES / "algemeen.pz").read_text(encoding="utf-8")
    cases = [
        (position(text, "en leeftijd < 18", offset=4), "algemeen.pz", algemeen, "afgeleid leeftijd", 9),
        (position(text, "uitzondering op fysio_kind_na_18_behandelingen", offset=20), "fysiotherapie.pz", text,
         "regel fysio_kind_na_18_behandelingen", 6),
        (position(text, "behandeling.soort in", offset=14), "algemeen.pz", algemeen, "invoer behandeling.soort", 7),
        (position(text, "in chronische_aandoeningen", offset=5), "fysiotherapie.pz", text,
         "tabel chronische_aandoeningen", 6),
        (position(text, "copd_maxima[", offset=2), "fysiotherapie.pz", text, "tabel copd_maxima", 6),
        (position(text, "bron bzv_2_6 \"lid 6", offset=6), "fysiotherapie.pz", text, "bron bzv_2_6", 5),
    ]
    for where, file, target_text, declaration, name_at in cases:
        found = await client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=where))
        assert isinstance(found, lsp.Location), declaration
        assert found.uri == (RULES / file).resolve().as_uri()
        expected = position(target_text, declaration, offset=name_at)
        assert found.range.start == expected, declaration
        name = declaration.split()[-1]
        assert found.range.end == lsp.Position(line=expected.line, character=expected.character + len(name))


@in_server_loop
async def test_a_scenario_file_is_checked_against_the_rule_book_in_force(client: LanguageClient, tmp_path: Path) -> None:
    """A scenario's names resolve in the rules in force: no false errors, definitions lead into rules/, and a
    misspelt rule in force gets its diagnostic with the suggestion."""
    path = ROOT / "scenarios" / "eerstelijnstarief" / "eerstelijnstarief.pz"
    text = path.read_text(encoding="utf-8")
    uri = open_file(client, path, text)
    assert list(await diagnostics(client, uri)) == []
    found = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=position(text, "uitzondering op tarief_gedeclareerd", offset=18)))
    assert isinstance(found, lsp.Location) and found.uri == (RULES / "tarieven.pz").resolve().as_uri()

    client.diagnostics.pop(uri)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(
            text=text.replace("uitzondering op tarief_gedeclareerd", "uitzondering op tarief_gedeclareed"))]))
    found_errors = [d for d in await diagnostics(client, uri) if d.severity == lsp.DiagnosticSeverity.Error]
    assert len(found_errors) == 1, found_errors
    assert "tarief_gedeclareed" in found_errors[0].message and "`tarief_gedeclareerd`" in found_errors[0].message
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))


def test_the_rule_book_of_a_scenario_file() -> None:
    from passendezorg.lsp import book_of

    scenario = ROOT / "scenarios" / "eerstelijnstarief"
    assert book_of(scenario / "eerstelijnstarief.pz") == (RULES, scenario)
    assert book_of(RULES / "tarieven.pz") == (RULES, None)


def _mask(text: str) -> str:
    """The text without its quoted texts and comments, which hold no names."""
    text = re.sub(r'"([^"\\\n]|\\.)*"', lambda m: " " * len(m.group(0)), text)
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group(0)), text)


@in_server_loop
async def test_references_find_every_use_in_every_file(client: LanguageClient) -> None:
    text = (RULES / "fysiotherapie.pz").read_text(encoding="utf-8")
    uri = open_file(client, RULES / "fysiotherapie.pz", text)
    for name, needle, offset in (("leeftijd", "en leeftijd < 18", 4), ("chronische_aandoeningen", "tabel chronische", 7),
                                 ("behandeling.soort", "behandeling.soort in", 3)):
        found = await client.text_document_references_async(lsp.ReferenceParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=position(text, needle, offset=offset),
            context=lsp.ReferenceContext(include_declaration=True)))
        assert found is not None
        # every occurrence of the name as a whole word outside texts and comments (not as a function call)
        expected = set()
        for f in sorted(RULES.glob("*.pz")):
            masked = _mask(f.read_text(encoding="utf-8"))
            for m in re.finditer(rf"(?<![\w.]){re.escape(name)}(?![\w(])", masked):
                line = masked.count("\n", 0, m.start())
                expected.add((f.resolve().as_uri(), line, m.start() - (masked.rfind("\n", 0, m.start()) + 1)))
        got = {(loc.uri, loc.range.start.line, loc.range.start.character) for loc in found}
        assert got == expected, name
        assert len(expected) >= 3


@in_server_loop
async def test_completion_offers_the_keywords_of_the_files_own_language(client: LanguageClient, tmp_path: Path) -> None:
    book = tmp_path / "compl"
    book.mkdir()
    (book / "a.pz").write_text("taal nederlands\ninvoer behandeling.datum : datum\ninvoer behandeling.soort : "
                               "een van fysio, oefen\npeildatum behandeling.datum\nuitvoer verzekerd : janee\n"
                               '  standaard nee\nregel basis\n  bron "x"\n  als behandeling.soort = fysio\n'
                               "  dan verzekerd = ja\n", encoding="utf-8")
    text = "taal nederlands\nregel uitzondering\n  bron \"x\"\n  uitzondering op \n  als beh\n"
    uri = open_file(client, book / "b.pz", text)

    async def labels(line: int, character: int) -> set[str]:
        result = await client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=character)))
        items = result.items if isinstance(result, lsp.CompletionList) else (result or [])
        return {item.label for item in items}

    anywhere = await labels(4, len("  als beh"))
    assert {"uitzondering op", "als", "dan", "geldig tot en met", "is bekend", "een van", "dagen"} <= anywhere
    assert {"behandeling.datum", "behandeling.soort", "verzekerd", "leeftijd", "fysio"} <= anywhere
    assert not {"when", "then", "exception to", "is known"} & anywhere
    # after `uitzondering op` only rules (the one being written does not parse yet)
    assert await labels(3, len("  uitzondering op ")) == {"basis"}

    # a buffer that is no file yet still gets the keywords of its language
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri="untitled:Untitled-1", language_id="passendezorg", version=1, text="taal nederlands\nregel r\n  a\n")))
    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri="untitled:Untitled-1"), position=lsp.Position(line=2, character=3)))
    assert isinstance(result, lsp.CompletionList)
    assert {"als", "afgeleid", "uitzondering op"} <= {item.label for item in result.items}


@in_server_loop
async def test_the_outline_of_a_file_lists_its_declarations(client: LanguageClient) -> None:
    text = (RULES / "fysiotherapie.pz").read_text(encoding="utf-8")
    uri = open_file(client, RULES / "fysiotherapie.pz", text)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert symbols is not None
    outline = [(s.name, s.kind) for s in symbols if isinstance(s, lsp.DocumentSymbol)]
    assert ("bzv_2_6", lsp.SymbolKind.Key) in outline
    assert ("chronische_aandoeningen", lsp.SymbolKind.Struct) in outline
    assert ("fysio_kind_na_18_behandelingen", lsp.SymbolKind.Method) in outline
    declared = [m.group(1) for m in re.finditer(r"^(?:regel|tabel|afgeleid|uitvoer|invoer|parameter) (\S+)", text, re.M)]
    assert [name for name, kind in outline if kind != lsp.SymbolKind.Key] == declared
    rule = next(s for s in symbols if isinstance(s, lsp.DocumentSymbol) and s.name == "fysio_kind_na_18_behandelingen")
    assert rule.selection_range.start == position(text, "regel fysio_kind_na_18_behandelingen", offset=6)
    assert rule.range.start.line == rule.selection_range.start.line and rule.range.end.line > rule.range.start.line


# ---------------------------------------------------------------- formatting


@in_server_loop
async def test_formatting_gives_what_fmt_writes_and_refuses_a_file_with_a_syntax_error(
        client: LanguageClient, tmp_path: Path) -> None:
    messy = "taal nederlands\ninvoer   a.b :datum\nuitvoer x : geheel   getal\n  standaard 1+2\n"
    uri = open_file(client, tmp_path / "messy.pz", messy)
    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), options=options))
    parsed, errors = parse_text(messy)
    assert parsed is not None and not errors
    assert edits is not None and [e.new_text for e in edits] == [format_file(parsed)]
    assert edits[0].range == lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=4, character=0))

    uri = open_file(client, tmp_path / "tidy.pz", format_file(parsed))
    unchanged = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), options=options))
    assert unchanged is not None and list(unchanged) == []  # formatted already: no edit

    uri = open_file(client, tmp_path / "broken.pz", messy + "regel r\n  als = \n")
    client.messages.clear()
    assert await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), options=options)) is None
    await asyncio.sleep(0.1)
    assert any("syntax error (line 6)" in m.message for m in client.messages)


# ---------------------------------------------------------------- the command


def test_without_the_extra_the_command_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygls", None)
    monkeypatch.setitem(sys.modules, "pygls.lsp", None)
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)
    monkeypatch.delitem(sys.modules, "passendezorg.lsp", raising=False)
    result = CliRunner().invoke(main, ["lsp"])
    assert result.exit_code == 2
    assert 'pip install "passendezorg[lsp]"' in result.output and "Traceback" not in result.output


def test_the_server_answers_on_tcp() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*SERVER, "--tcp", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                proc.poll()
                assert proc.returncode is None, "the server stopped"
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("the server did not listen")
        with conn:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
            conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            data = b""
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(
                    re.search(rb"Content-Length: (\d+)", data).group(1)):  # type: ignore[union-attr]
                chunk = conn.recv(65536)
                assert chunk, "the connection closed"
                data += chunk
        reply = json.loads(data.split(b"\r\n\r\n", 1)[1])
        assert reply["result"]["serverInfo"]["name"] == "passendezorg"
        capabilities = reply["result"]["capabilities"]
        for feature in ("hoverProvider", "definitionProvider", "referencesProvider", "completionProvider",
                        "documentFormattingProvider"):
            assert capabilities.get(feature), feature
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_rule_book_of_a_file(tmp_path: Path) -> None:
    from passendezorg.lsp import rulebook_root

    assert rulebook_root(RULES / "fysiotherapie.pz") == RULES
    nested = ROOT / "tests" / "rulebooks" / "claims"
    assert rulebook_root(nested / "rules" / "coverage.pz") == nested
