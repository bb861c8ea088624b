"""The language server (``passendezorg lsp``): the checker and the symbol index, spoken over LSP with pygls.

A few handlers over pygls's document store. The checker stays the only source of
diagnostics: a document in a rule book folder is checked with the whole folder, the
open documents' unsaved texts standing in for their files, so names declared in
other files resolve. Re-checks wait for a pause in typing. Hover, go to definition,
references and completion read the symbol index of the last check
(``passendezorg.symbols``); formatting is ``passendezorg fmt``'s.

Needs the ``lsp`` extra (pygls); the command line imports this module only to run it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from .errors import Diagnostic, PassendeZorgError
from .messages import label
from .rulebook import RULE_SUFFIX, CheckReport, check_texts
from .source import Span
from .symbols import Occurrence, SymbolIndex, completions
from .version import __version__

__all__ = ["PassendeZorgServer", "book_of", "rulebook_root", "serve"]

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.3
"""How long typing must pause before the rule book is checked again."""

COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword, "function": lsp.CompletionItemKind.Function,
    "choice": lsp.CompletionItemKind.EnumMember, "input": lsp.CompletionItemKind.Field,
    "derived": lsp.CompletionItemKind.Variable, "output": lsp.CompletionItemKind.Variable,
    "parameter": lsp.CompletionItemKind.Constant, "table": lsp.CompletionItemKind.Struct,
    "rule": lsp.CompletionItemKind.Method, "source": lsp.CompletionItemKind.Reference,
    "group": lsp.CompletionItemKind.Struct,
}
SYMBOL_KINDS = {
    "input": lsp.SymbolKind.Field, "derived": lsp.SymbolKind.Variable, "output": lsp.SymbolKind.Variable,
    "parameter": lsp.SymbolKind.Constant, "table": lsp.SymbolKind.Struct, "rule": lsp.SymbolKind.Method,
    "source": lsp.SymbolKind.Key, "group": lsp.SymbolKind.Array,
}


Book = tuple[Path, Path | None]
"""What a rule file is checked as part of: a rule book's folder, and the scenario folder when it is a scenario's file."""


def book_of(path: Path) -> Book:
    """The rule book a file is checked with: a scenario's file (``scenarios/<name>/…``) with the rule book in force
    beside the scenarios folder (``$PASSENDEZORG_RULES``, else ``rules/``), any other file with ``rulebook_root``."""
    import os

    from .scenario import SCENARIOS_FOLDER

    for folder in path.parents:
        if folder.parent.name == SCENARIOS_FOLDER and folder.parent.parent != folder.parent:
            given = os.environ.get("PASSENDEZORG_RULES")
            rules = Path(given).resolve() if given else folder.parent.parent / "rules"
            if rules.is_dir():
                return rules, folder
            break
    return rulebook_root(path), None


def rulebook_root(path: Path) -> Path:
    """The rule book a rule file belongs to: its folder, widened upwards while the folder above holds rule files too.

    So ``rules/fysiotherapie.pz`` is checked with all of ``rules/``, and a book with its
    declarations at the top and its rules in a subfolder is checked as one.
    """
    root = path.parent
    while root.parent != root and any(p.is_file() for p in root.parent.glob(f"*{RULE_SUFFIX}")):
        root = root.parent
    return root


@dataclass
class Analysis:
    """One check of one rule book: its report and the index of its names."""

    key: tuple[tuple[str, int], ...]  # the open documents (uri, version) it was made from
    report: CheckReport
    index: SymbolIndex


class PassendeZorgServer(LanguageServer):
    """Keeps the last check of each rule book that has an open document."""

    def __init__(self) -> None:
        super().__init__("passendezorg", __version__)
        self.analyses: dict[Book, Analysis] = {}
        self.published: dict[Book, set[str]] = {}
        self.pending: dict[Book, asyncio.Task[None]] = {}

    # ------------------------------------------------------------ checking

    def open_texts(self, book: Book) -> dict[str, tuple[Path, str, int]]:
        """The open rule files of a rule book (and of its scenario): uri -> (path, unsaved text, version)."""
        out = {}
        folders = [f for f in book if f is not None]
        for uri, doc in self.workspace.text_documents.items():
            path = _path(uri)
            if path is not None and path.suffix == RULE_SUFFIX and any(f in path.parents for f in folders):
                out[uri] = (path, doc.source, doc.version or 0)
        return out

    def analysis(self, book: Book) -> Analysis | None:
        """The check of a rule book (under its scenario) as the open documents now read; made again only if one
        changed."""
        texts = self.open_texts(book)
        key = tuple(sorted((uri, version) for uri, (_, _, version) in texts.items()))
        done = self.analyses.get(book)
        if done is not None and done.key == key:
            return done
        root, scenario = book
        try:
            report = check_texts(root, {path: text for path, text, _ in texts.values()}, scenario=scenario)
        except (PassendeZorgError, OSError) as e:  # the folder vanished, say
            log.warning("cannot check %s: %s", root, e)
            return None
        done = Analysis(key, report, SymbolIndex(report.parsed))
        self.analyses[book] = done
        return done

    def check_and_publish(self, root: Book) -> None:
        done = self.analysis(root)
        if done is None:
            return
        by_file: dict[str, list[lsp.Diagnostic]] = {}
        for d in done.report.diagnostics:
            if d.span.line < 1:
                continue
            uri = from_fs_path(d.span.file)
            if uri is not None:
                by_file.setdefault(uri, []).append(self.diagnostic(d, done.report))
        for f in done.report.parsed:  # a file without findings gets an empty list, which clears what it had
            uri = from_fs_path(f.path)
            if uri is not None:
                by_file.setdefault(uri, [])
        for uri in self.published.get(root, set()) - set(by_file):
            by_file[uri] = []
        for uri, diagnostics in sorted(by_file.items()):
            doc = self.workspace.text_documents.get(uri)
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version if doc else None))
        self.published[root] = {uri for uri, ds in by_file.items() if ds}

    def schedule(self, uri: str, delay: float) -> None:
        """Check the rule book of ``uri`` after ``delay`` seconds, unless another change comes first."""
        path = _path(uri)
        if path is None or path.suffix != RULE_SUFFIX:
            return
        root = book_of(path)
        previous = self.pending.pop(root, None)
        if previous is not None:
            previous.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            self.pending.pop(root, None)
            try:
                self.check_and_publish(root)
            except Exception as e:  # a fault here must not stop the checks that follow
                log.exception("checking %s failed", root)
                self.window_log_message(lsp.LogMessageParams(
                    type=lsp.MessageType.Error, message=f"passendezorg: checking {root} failed: {e!r}"))

        self.pending[root] = asyncio.get_running_loop().create_task(later())

    # ------------------------------------------------------------ positions

    def lines(self, path: str, report: CheckReport | None = None) -> list[str]:
        uri = from_fs_path(path)
        doc = self.workspace.text_documents.get(uri) if uri else None
        if doc is not None:
            return list(doc.lines)
        if report is not None:
            shown = report.sources.lines(path)
            if shown is not None:
                return shown
        try:
            return Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def range_of(self, span: Span, report: CheckReport | None = None) -> lsp.Range:
        """A span (1-based, in characters) as an LSP range (0-based, in the client's units)."""
        lines = self.lines(span.file, report)
        line = max(span.line - 1, 0)
        start = max(span.column - 1, 0)
        if span.end_line >= span.line and (span.end_line, span.end_column) > (span.line, span.column):
            end_line, end = span.end_line - 1, span.end_column - 1
        else:  # a point: mark the word (or the character) that stands there
            text = lines[line] if line < len(lines) else ""
            m = re.compile(r"\w+|\S").match(text, start)
            end_line, end = line, (m.end() if m else start + 1)
        codec = self.workspace.position_codec
        return lsp.Range(start=codec.position_to_client_units(lines, lsp.Position(line=line, character=start)),
                         end=codec.position_to_client_units(lines, lsp.Position(line=end_line, character=end)))

    def location(self, span: Span, report: CheckReport) -> lsp.Location:
        return lsp.Location(uri=from_fs_path(span.file) or span.file, range=self.range_of(span, report))

    def diagnostic(self, d: Diagnostic, report: CheckReport) -> lsp.Diagnostic:
        message, hint, notes = d.shown()  # in the language of the file (Dutch for `taal nederlands`)
        related = [lsp.DiagnosticRelatedInformation(location=self.location(span, report), message=note)
                   for note, span in notes if span.line >= 1]
        return lsp.Diagnostic(
            range=self.range_of(d.span, report),
            message=message + (f"\n{label('hint', d.language)}: {hint}" if hint else ""),
            severity=lsp.DiagnosticSeverity.Error if d.severity == "error" else lsp.DiagnosticSeverity.Warning,
            code=d.code, source="passendezorg", related_information=related or None,
        )

    def name_at(self, uri: str, position: lsp.Position) -> tuple[Analysis, Occurrence] | None:
        """The check of the document's rule book and the name under the cursor, if any."""
        path = _path(uri)
        if path is None:
            return None
        done = self.analysis(book_of(path))
        if done is None:
            return None
        doc = self.workspace.get_text_document(uri)
        at = doc.position_codec.position_from_client_units(doc.lines, position)
        found = done.index.at(str(path), at.line + 1, at.character + 1)
        return (done, found) if found is not None else None


def _path(uri: str) -> Path | None:
    """The file of a document; None for one that is not a file (an unsaved, untitled buffer)."""
    fs = to_fs_path(uri) if uri.startswith("file:") else None
    return Path(fs).resolve() if fs else None


def _language(text: str) -> str:
    from .syntax import detect_language

    return detect_language(text) or "english"


server = PassendeZorgServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PassendeZorgServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: PassendeZorgServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, DEBOUNCE_SECONDS)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: PassendeZorgServer, params: lsp.DidSaveTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PassendeZorgServer, params: lsp.DidCloseTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, 0)  # the file on disk counts again


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def hover(ls: PassendeZorgServer, params: lsp.HoverParams) -> lsp.Hover | None:
    found = ls.name_at(params.text_document.uri, params.position)
    if found is None:
        return None
    done, occurrence = found
    language = _language(ls.workspace.get_text_document(params.text_document.uri).source)
    root = book_of(Path(occurrence.symbol.file.path))[0]
    try:
        relative = Path(occurrence.symbol.file.path).relative_to(root.parent).as_posix()
    except ValueError:
        relative = None
    text = done.index.hover(occurrence.symbol, language, relative=relative)
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                     range=ls.range_of(occurrence.span, done.report))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def definition(ls: PassendeZorgServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    found = ls.name_at(params.text_document.uri, params.position)
    if found is None:
        return None
    done, occurrence = found
    return ls.location(occurrence.symbol.span, done.report)


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
def references(ls: PassendeZorgServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    found = ls.name_at(params.text_document.uri, params.position)
    if found is None:
        return None
    done, occurrence = found
    return [ls.location(o.span, done.report)
            for o in done.index.references(occurrence.symbol, params.context.include_declaration)]


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbols(ls: PassendeZorgServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    path = _path(params.text_document.uri)
    done = ls.analysis(book_of(path)) if path is not None else None
    if path is None or done is None:
        return None
    out = []
    for s in done.index.declarations_in(str(path)):
        whole = getattr(s.node, "span", s.span)
        selection = ls.range_of(s.span, done.report)
        full = ls.range_of(whole, done.report) if whole.line >= 1 else selection
        out.append(lsp.DocumentSymbol(name=s.name, kind=SYMBOL_KINDS[s.kind], range=full, selection_range=selection))
    return out


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."]))
def complete(ls: PassendeZorgServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    path = _path(params.text_document.uri)
    done = ls.analysis(book_of(path)) if path is not None else None
    index = done.index if done is not None else SymbolIndex([])  # an untitled buffer: the keywords still
    doc = ls.workspace.get_text_document(params.text_document.uri)
    at = doc.position_codec.position_from_client_units(doc.lines, params.position)
    line = doc.lines[at.line] if at.line < len(doc.lines) else ""
    typed, candidates = completions(index, _language(doc.source), line[: at.character])
    start = doc.position_codec.position_to_client_units(
        doc.lines, lsp.Position(line=at.line, character=at.character - len(typed)))
    where = lsp.Range(start=start, end=params.position)
    items = [lsp.CompletionItem(label=c.label, kind=COMPLETION_KINDS.get(c.kind), detail=c.detail or None,
                                text_edit=lsp.TextEdit(range=where, new_text=c.label),
                                sort_text=f"{0 if c.kind != 'keyword' else 1}{c.label}")
             for c in candidates]
    return lsp.CompletionList(is_incomplete=False, items=items)


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: PassendeZorgServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    """The whole document as `passendezorg fmt` writes it; nothing while it has a syntax error."""
    from .format import format_file
    from .syntax import parse_text

    doc = ls.workspace.get_text_document(params.text_document.uri)
    parsed, errors = parse_text(doc.source, doc.path or doc.uri)
    if errors or parsed is None:
        where = f" (line {errors[0].span.line})" if errors else ""
        ls.window_show_message(lsp.ShowMessageParams(
            type=lsp.MessageType.Warning,
            message=f"passendezorg: not formatted: the file has a syntax error{where}; fix it first"))
        return None
    new = format_file(parsed)
    if new == doc.source:
        return []
    lines = doc.source.split("\n")
    end = ls.workspace.position_codec.position_to_client_units(
        lines, lsp.Position(line=len(lines) - 1, character=len(lines[-1])))
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=new)]


def serve(tcp: tuple[str, int] | None = None) -> None:
    """Run the server on standard input and output, or on a TCP address."""
    if tcp is None:
        server.start_io()
    else:
        server.start_tcp(*tcp)
