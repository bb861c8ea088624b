"""Parse rule file text into nodes. The only module that imports lark (imported only when a file is parsed)."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .errors import Diagnostic
from .keywords import grammar_dir, keyword_table, typo_distance
from .source import Span
from .values import MAX_DIGITS, MAX_FRACTION_DIGITS, AmountError, parse_amount

LANGUAGES = ("english", "nederlands")
LANGUAGE_ALIASES = {"english": "english", "en": "english", "nederlands": "nederlands", "nl": "nederlands", "dutch": "nederlands"}
_LANG_LINE = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*(language|taal)[ \t]+(\w+)")
ITEM_KEYWORDS = {
    "english": ("input", "derived", "output", "peildatum", "parameter", "table", "rule", "change", "replace",
                r"add[ \t]+to", "switch", "group"),
    "nederlands": ("invoer", "afgeleid", "uitvoer", "peildatum", "parameter", "tabel", "regel", "wijzig", "vervang",
                   r"voeg[ \t]+toe", "schakel", "groep"),
}


_parsers: dict[str, Lark] = {}
_lock = threading.Lock()


def grammar_text(language: str) -> str:
    """The whole grammar of one keyword set: the structure and that language's keywords."""
    d = grammar_dir()
    text = (d / "passendezorg.lark").read_text(encoding="utf-8")
    return text + "\n" + (d / f"keywords_{language}.lark").read_text(encoding="utf-8")


def _parser_entry(language: str, grammar: str, options: dict[str, Any]) -> str:
    """The cache entry of a built parser (building it takes most of a cold start): grammar, options and lark's
    version in its name."""
    import hashlib

    import lark

    digest = hashlib.sha256(f"{lark.__version__}\0{sorted(options.items())}\0{grammar}".encode()).hexdigest()[:24]
    return f"parser-{language}-{digest}.pzc"


def _build_parser(language: str) -> Lark:
    """The parser of one keyword set: from the cache when this user's passendezorg signed it there (lark's loader
    unpickles: see cache.py), else built and kept."""
    import io

    from .cache import read_entry, write_entry

    text = grammar_text(language)
    options: dict[str, Any] = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True,
                               "maybe_placeholders": False}
    entry = _parser_entry(language, text, options)
    payload = read_entry(entry)
    if payload is not None:
        try:
            return Lark.load(io.BytesIO(payload))
        except Exception:  # noqa: BLE001 - an entry of another lark: built again below
            pass
    parser = Lark(text, **options)
    out = io.BytesIO()
    try:
        parser.save(out)
        write_entry(entry, out.getvalue())
    except Exception:  # noqa: BLE001 - no cache: only slower next time
        pass
    return parser


def parser_for(language: str) -> Lark:
    with _lock:
        if language not in _parsers:
            _parsers[language] = _build_parser(language)
        return _parsers[language]


def detect_language(text: str) -> str | None:
    """The keyword set a file declares on its first line; None if it declares an unknown one."""
    m = _LANG_LINE.match(text)
    if not m:
        return "english"
    return LANGUAGE_ALIASES.get(m.group(2).lower())


# ---------------------------------------------------------------- errors in plain words

_TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": 'a text in double quotes ("…")',
    "INT": "a whole number",
    "DECIMAL": "a decimal number",
    "PERCENT": "a percentage",
    "MONEY": "an amount (€ 12,34)",
    "DATE": "a date (YYYY-MM-DD)",
    "EQ": "`=`",
    "COMP_OP": "a comparison (<, <=, >, >=, !=)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "DOT": "`.`",
    "$END": "the end of the file",
}


_VALUE_TOKENS = {
    "NAME", "INT", "STRING", "DECIMAL", "PERCENT", "MONEY", "DATE", "LPAR", "LSQB", "ADD_OP",
    "KW_TRUE", "KW_FALSE", "KW_NOT", "KW_ROUND",
}
_QUIET_TOKENS = {"KW_IF", "KW_WHERE"}
"""Tokens that may continue any expression but are seldom what was meant: named only when nothing else fits."""
_OPERATOR_TOKENS = {
    "EQ", "COMP_OP", "ADD_OP", "MUL_OP", "KW_AND", "KW_OR", "KW_IN", "KW_NOT_IN", "KW_IS_KNOWN", "KW_IS_MISSING",
    "DOT", "LSQB", "LPAR", "KW_DAYS", "KW_MONTHS", "KW_YEARS",
}


_SCENARIO_CHANGES = {"KW_CHANGE", "KW_REPLACE", "KW_ADD_TO", "KW_SWITCH"}
"""Keywords that start a scenario's change: named in a hint only where nothing else could follow."""


def _describe_expected(expected: set[str], language: str) -> str:
    kws = keyword_table(language)
    if expected - _SCENARIO_CHANGES:
        expected = expected - _SCENARIO_CHANGES
    words = []
    if expected - _QUIET_TOKENS:
        expected = expected - _QUIET_TOKENS
    if {"NAME", "INT", "STRING"} <= expected:
        words.append("a value or a name")
        expected = {e for e in expected if e not in _VALUE_TOKENS}
    elif {"NAME", "EQ", "COMP_OP"} <= expected:
        words.append("an operator")
        expected = {"NAME"} | {e for e in expected if not (e in _OPERATOR_TOKENS or e in _VALUE_TOKENS)}
    for name in sorted(expected):
        if name in kws:
            words.append(f"`{kws[name]}`")
        elif name in _TOKEN_WORDS:
            words.append(_TOKEN_WORDS[name])
        elif name.startswith("__ANON"):
            continue
        else:
            words.append(name.lower())
    words = sorted(set(words), key=lambda w: (not w.startswith("a"), w))
    if not words:
        return ""
    if len(words) > 8:
        items = [w for w in words if w.startswith("`")][:8]
        return "expected one of " + ", ".join(items) + ", …"
    if len(words) == 1:
        return "expected " + words[0]
    return "expected one of " + ", ".join(words)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    return f"`{token}`"


@dataclass
class _Found:
    """A syntax error in a piece of text, and how to read on past it.

    ``blame`` is the line (in the parsed text) of the clause to leave out; ``fix`` a misspelt
    keyword and its correction (line, column, length as written, keyword) to read on with.
    """

    diagnostic: Diagnostic
    blame: int
    fix: tuple[int, int, int, str] | None = None
    wants: frozenset[str] = frozenset()  # the keywords the parser would have accepted here


# keywords that end a complete value: an expression cut short never reads them as a name
_VALUE_KEYWORDS = {"KW_TRUE", "KW_FALSE", "KW_DAYS", "KW_MONTHS", "KW_YEARS", "KW_IS_KNOWN", "KW_IS_MISSING"}


def _syntax_error(e: UnexpectedInput, path: str, language: str, text: str, offset: int = 0) -> _Found:
    """A lark error as a diagnostic in plain words (lines shifted by ``offset``)."""
    line = getattr(e, "line", 1) or 1
    column = getattr(e, "column", 1) or 1
    width = 1
    blame = line
    hint = None
    fix = None
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        message = f"unexpected character `{ch}`"
        if ch == "'":
            hint = 'texts are written in double quotes: "…"'
        elif ch == "=":
            hint = "compare with a single `=`"
        elif ch == "€":
            hint = "write amounts as € 12,34, € 12.34 or € 1.234,56"
        elif ch in "&|!":
            kws = keyword_table(language)
            hint = f"write `{kws['KW_AND']}`, `{kws['KW_OR']}` and `{kws['KW_NOT']}` as words"
        expected = _describe_expected(set(e.allowed or ()), language)
        if expected:
            message += f"; {expected}"
    elif isinstance(e, UnexpectedToken):
        tok = e.token
        accepts = set(e.accepts or e.expected or ())
        if tok.type == "$END":
            line, column = _end_position(text)
            blame = line
        in_expression = bool({"ADD_OP", "MUL_OP", "KW_AND", "KW_OR"} & accepts)
        keyword = _keyword_read_as_name(text, tok, language) if in_expression else None
        if keyword is not None:
            word, kline, kcol = keyword
            before = text[: _offset_of(text, kline, kcol)].rstrip()
            return _Found(Diagnostic(
                "error", "syntax", f"the expression before `{word}` is not complete", Span(path, kline + offset, kcol),
                f"`{word}` is a keyword; finish the expression before it (a value or a name is missing)",
                language=language,
            ), before.count("\n") + 1)
        slip = _keyword_slip(text, tok, accepts, language) if tok.type != "$END" else None
        message = "the file ends too early" if tok.type == "$END" else f"unexpected {_token_text(tok)}"
        if tok.type != "$END" and tok.end_line == tok.line and tok.end_column:
            width = max(tok.end_column - column, 1)
        if slip is not None:
            hint, keyword_fix = slip
            if keyword_fix is not None:
                fix = (line, column, *keyword_fix)
                width = keyword_fix[0]
                message = f"unexpected `{text[tok.start_pos:tok.start_pos + width]}`"
        else:
            expected = _describe_expected(accepts, language)
            if expected:
                message += f"; {expected}"
            if tok.type == "EQ" and e.expected and "EQ" not in e.expected:
                hint = "compare with a single `=`"
            elif tok.type.startswith("KW_"):
                hint = f"`{tok}` is a keyword; choose another name or check what comes before it"
    elif isinstance(e, UnexpectedEOF):
        line, column = _end_position(text)
        blame = line
        message = "the file ends too early; " + _describe_expected(set(e.expected or ()), language)
    else:  # pragma: no cover - lark has no other kinds
        message = str(e)
    wants = frozenset(t for t in getattr(e, "accepts", None) or getattr(e, "expected", None) or () if t.startswith("KW_"))
    span = Span(path, line + offset, column, line + offset, column + width)
    return _Found(Diagnostic("error", "syntax", message, span, hint, language=language), blame, fix, wants)


def _offset_of(text: str, line: int, column: int) -> int:
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    return start + column - 1


def _keyword_slip(text: str, tok: Token, accepts: set[str], language: str) -> tuple[str, tuple[int, str] | None] | None:
    """A hint when the unexpected word is a misspelt keyword that fits here (`omdt`: did you mean `omdat`?),
    or a keyword of the other language; with the correction to read on with (length written, keyword)."""
    pos = tok.start_pos
    if pos is None or not str(tok)[:1].isalpha():
        return None
    m = re.match(r"\w+(?:[ \t]+\w+){0,3}", text[pos:])
    if m is None:
        return None
    words = m.group(0).split()
    table = keyword_table(language)
    other_language = "english" if language == "nederlands" else "nederlands"
    other = keyword_table(other_language)
    fitting = sorted(t for t in accepts if t in table)
    for terminal in fitting:  # a keyword of the other language: say which one to write
        theirs = other[terminal]
        count = theirs.count(" ") + 1
        written = " ".join(words[:count])
        if len(words) >= count and written.lower() == theirs and theirs != table[terminal]:
            length = _written_length(text, pos, count)
            if language == "nederlands":
                hint = f"`{written}` is an English keyword; this file is in Dutch (`taal nederlands`): write `{table[terminal]}`"
            else:
                hint = f"`{written}` is a Dutch keyword; this file is in English: write `{table[terminal]}`"
            return hint, (length, table[terminal])
    best: tuple[int, str, int] | None = None
    if len(words[0]) < 2:
        return None
    for terminal in fitting:
        keyword = table[terminal]
        count = keyword.count(" ") + 1
        if len(words) < count:
            continue
        written = " ".join(words[:count]).lower()
        limit = 1 if len(keyword) <= 5 else 2
        distance = typo_distance(written, keyword, limit)
        if 0 < distance <= limit and (best is None or distance < best[0]):
            length = _written_length(text, pos, count)
            best = (distance, keyword, length)
    if best is None:
        return None
    return f"did you mean `{best[1]}`?", (best[2], best[1])


def _written_length(text: str, pos: int, words: int) -> int:
    """How many characters the first ``words`` words at ``pos`` take, with the spaces between them."""
    m = re.match(r"\w+(?:[ \t]+\w+){0,%d}" % (words - 1), text[pos:])  # noqa: UP031 - a regex quantifier
    return len(m.group(0)) if m is not None else 0


def _keyword_read_as_name(text: str, tok: Token, language: str) -> tuple[str, int, int] | None:
    """When an expression is cut short, the next keyword is read as a name; find that keyword.

    The word just before the token (whitespace between), found by walking back from it: linear
    in the length of that word and of its line, however long the file or its lines are.
    """
    pos = tok.start_pos if tok.type != "$END" else len(text)
    if pos is None:
        return None
    end = pos
    while end > 0 and text[end - 1].isspace():
        end -= 1
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    word = text[start:end]
    words = {w for t, w in keyword_table(language).items() if " " not in w and t not in _VALUE_KEYWORDS}
    if not word or word not in words:
        return None
    line_start = text.rfind("\n", 0, start) + 1
    if _mask_strings(text[line_start:end])[start - line_start:] != word:
        return None  # the word sits in a quoted text: it was not read as a name
    line = text.count("\n", 0, start) + 1
    return word, line, start - line_start + 1


def _end_position(text: str) -> tuple[int, int]:
    lines = text.rstrip().split("\n")  # lines as lark counts them (a lone \r does not end one)
    return len(lines), len(lines[-1]) + 1


# ---------------------------------------------------------------- tree -> nodes


class _Builder:
    def __init__(self, path: str, language: str) -> None:
        self.path = path
        self.language = language
        self.depth = 0
        self.offset = 0  # lines before the piece of the file being read
        self.problems: list[Diagnostic] = []  # what is wrong in what was read (a number out of range)

    def span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True) and not hasattr(meta, "line"):
            return Span(self.path, 0, 0)
        return Span(self.path, meta.line + self.offset, meta.column, meta.end_line + self.offset, meta.end_column)

    def tspan(self, tok: Token) -> Span:
        if not tok.line:
            return Span(self.path, 0, 0)
        return Span(self.path, tok.line + self.offset, tok.column or 0, (tok.end_line or 0) + self.offset,
                    tok.end_column or 0)

    @staticmethod
    def string(tok: Token | None) -> str | None:
        if tok is None:
            return None
        body = str(tok)[1:-1]
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)

    @staticmethod
    def kids(tree: Tree[Token]) -> list[Any]:
        """Children without keyword tokens."""
        return [c for c in _ch(tree) if not (isinstance(c, Token) and c.type.startswith("KW_"))]

    def file(self, tree: Tree[Token]) -> tuple[n.Ruleset | None, list[n.Item]]:
        ruleset = None
        items: list[n.Item] = []
        for child in _ch(tree):
            if child.data == "language_decl":
                continue
            if child.data in ("ruleset", "scenario"):
                ruleset = self.ruleset(child)
            else:
                items.append(getattr(self, child.data)(child))
        return ruleset, items

    @staticmethod
    def sub(t: Tree[Token], data: str) -> Tree[Token] | None:
        for c in _ch(t):
            if isinstance(c, Tree) and c.data == data:
                return c
        return None

    def desc(self, t: Tree[Token]) -> str | None:
        d = self.sub(t, "desc")
        return self.string(_ch(d)[0]) if d is not None else None

    def ruleset(self, t: Tree[Token]) -> n.Ruleset:
        k = self.kids(t)
        title = None
        sources = []
        lines: dict[str, int] = {}
        for c in k[1:]:
            if c.data == "title":
                title = self.string(self.kids(c)[0])
                lines.setdefault("title", self.span(c.meta).line)
            else:
                ck = self.kids(c)
                url = self.sub(c, "url")
                sources.append(
                    n.SourceDef(
                        str(ck[0]), self.string(ck[1]) or "",
                        self.string(self.kids(url)[0]) if url is not None else None, self.span(c.meta),
                        self.tspan(ck[0]), proposal=self.sub(c, "proposal") is not None,
                    )
                )
        return n.Ruleset(str(k[0]), title, tuple(sources), self.span(t.meta), self.tspan(k[0]),
                         scenario=t.data == "scenario", clause_lines=lines)

    def type_expr(self, t: Tree[Token]) -> n.TypeRef:
        if t.data == "simple_type":
            kw = _ch(t)[0].type[3:].lower()
            return n.TypeRef(kw)
        if t.data == "enum_type":
            return n.TypeRef("enum", tuple(str(c) for c in self.kids(t)))
        return n.TypeRef("list", item=self.type_expr(self.kids(t)[0]))

    def _type(self, t: Tree[Token]) -> n.TypeRef:
        for c in _ch(t):
            if isinstance(c, Tree) and c.data in ("simple_type", "enum_type", "list_type"):
                return self.type_expr(c)
        raise AssertionError("declaration without a type")  # pragma: no cover

    def var_name(self, t: Tree[Token]) -> str:
        return ".".join(str(c) for c in _ch(t))

    def input_decl(self, t: Tree[Token]) -> n.InputDecl:
        var = self.sub(t, "var")
        assert var is not None
        return n.InputDecl(self.var_name(var), self._type(t), self.desc(t), self.span(t.meta), self.span(var.meta))

    def _expr_of(self, t: Tree[Token], data: str) -> n.Expr | None:
        sub = self.sub(t, data)
        if sub is None:
            return None
        return self.expr([c for c in self.kids(sub) if not (isinstance(c, Token) and c.type == "EQ")][0])

    def sources_of(self, t: Tree[Token]) -> tuple[n.SourceRef, ...]:
        return tuple(self.source(c) for c in _ch(t) if isinstance(c, Tree) and c.data in ("source_ref", "source_text"))

    def per(self, t: Tree[Token]) -> str | None:
        per = self.sub(t, "per")
        return str(self.kids(per)[0]) if per is not None else None

    def derived_decl(self, t: Tree[Token]) -> n.DerivedDecl:
        name = self.kids(t)[0]
        return n.DerivedDecl(
            str(name), self._type(t), self.desc(t), self._expr_of(t, "definition"),
            self._expr_of(t, "default"), self.span(t.meta), self.tspan(name), sources=self.sources_of(t),
            per=self.per(t),
        )

    def output_decl(self, t: Tree[Token]) -> n.OutputDecl:
        name = self.kids(t)[0]
        return n.OutputDecl(
            str(name), self._type(t), self.desc(t), self._expr_of(t, "default"), self.span(t.meta), self.tspan(name),
            per=self.per(t),
        )

    def group_decl(self, t: Tree[Token]) -> n.GroupDecl:
        k = self.kids(t)
        name = k[0]
        var = self.sub(t, "var")
        assert var is not None
        fields = []
        for c in k:
            if isinstance(c, Tree) and c.data == "field_decl":
                fk = self.kids(c)
                fields.append(n.FieldDecl(str(fk[0]), self._type(c), self.desc(c), self.span(c.meta), self.tspan(fk[0])))
        return n.GroupDecl(str(name), self.var_name(var), self.desc(t), tuple(fields), self.span(t.meta),
                           self.tspan(name))

    def peildatum_decl(self, t: Tree[Token]) -> n.PeildatumDecl:
        var = self.kids(t)[0]
        return n.PeildatumDecl(self.var_name(var), self.span(t.meta), self.span(var.meta))

    def parameter_decl(self, t: Tree[Token]) -> n.ParameterDecl:
        name = self.kids(t)[0]
        return n.ParameterDecl(str(name), self._type(t), self.desc(t), self.param_values(t), self.span(t.meta),
                               self.tspan(name))

    def parameter_change(self, t: Tree[Token]) -> n.ParameterChange:
        name = self.kids(t)[0]
        return n.ParameterChange(str(name), self.param_values(t), self.span(t.meta), self.tspan(name))

    def table_change(self, t: Tree[Token]) -> n.TableChange:
        kind = "replace" if _ch(t)[0].type == "KW_REPLACE" else "add"
        name = self.kids(t)[0]
        start, sources, counts = self.change_clauses(t)
        file = None
        for c in _ch(t):
            if isinstance(c, Tree) and c.data == "change_file":
                file = self.string(self.kids(c)[0])
                counts["file"] = counts.get("file", 0) + 1
        return n.TableChange(kind, str(name), self.desc(t), file, start, sources, self.span(t.meta),
                             self.tspan(name), counts)

    def switch_off(self, t: Tree[Token]) -> n.SwitchOff:
        name = self.kids(t)[0]
        start, sources, counts = self.change_clauses(t)
        return n.SwitchOff(str(name), start, sources, self.span(t.meta), self.tspan(name), counts)

    def change_clauses(self, t: Tree[Token]) -> tuple[dt.date | None, tuple[n.SourceRef, ...], dict[str, int]]:
        """The `from` date and the sources of a scenario's change, and how often each clause occurs."""
        start = None
        sources = []
        counts: dict[str, int] = {}
        for c in _ch(t):
            if not isinstance(c, Tree):
                continue
            if c.data == "change_from":
                start = _date(self.kids(c)[0])
                counts["from"] = counts.get("from", 0) + 1
            elif c.data in ("source_ref", "source_text"):
                sources.append(self.source(c))
        return start, tuple(sources), counts

    def param_values(self, t: Tree[Token]) -> tuple[n.ParamValue, ...]:
        values = []
        for pv in _ch(t):
            if not (isinstance(pv, Tree) and pv.data == "param_value"):
                continue
            start = self.kids(pv)[0]
            until = self.sub(pv, "until")
            lit = [c for c in _ch(pv) if isinstance(c, Tree) and c.data not in ("until", "source_ref", "source_text")][0]
            src = self.sub(pv, "source_ref") or self.sub(pv, "source_text")
            value: n.Literal | n.ListLit | None
            if lit.data == "unknown_value":
                value = None
            elif lit.data == "list_lit":
                value = n.ListLit(tuple(self.expr(i) for i in self.kids(lit)), self.span(lit.meta))
            elif lit.data == "enum_value":
                tok = _ch(lit)[0]
                value = n.Literal(str(tok), "enum", self.tspan(tok), str(tok))
            else:
                value = self.literal(lit)
            values.append(
                n.ParamValue(
                    _date(start),
                    _date(self.kids(until)[0]) if until is not None else None,
                    value,
                    self.source(src) if src is not None else None,
                    self.span(pv.meta),
                )
            )
        return tuple(values)

    def table_decl(self, t: Tree[Token]) -> n.TableDecl:
        k = self.kids(t)
        name = k[0]
        file = [c for c in k if isinstance(c, Token) and c.type == "STRING"][0]
        keys = [str(c) for c in k[1:] if isinstance(c, Token) and c.type == "NAME"]
        columns: list[n.Column] = []
        vfrom = vuntil = source_column = None
        lines = {"file": self.tspan(file).line}
        key_tokens = [c for c in k[1:] if isinstance(c, Token) and c.type == "NAME"]
        if key_tokens:
            lines["key"] = self.tspan(key_tokens[0]).line
        for c in k:
            if not isinstance(c, Tree):
                continue
            if c.data == "table_validity":
                lines["validity"] = self.span(c.meta).line
            if c.data == "source_column":
                source_column = str(self.kids(c)[0])
            elif c.data == "column":
                ck = self.kids(c)
                columns.append(n.Column(str(ck[0]), self.type_expr(ck[1]), self.span(c.meta), self.tspan(ck[0])))
            elif c.data == "table_validity":
                vfrom = str(self.kids(c)[0])
                uc = self.sub(c, "until_column")
                vuntil = str(self.kids(uc)[0]) if uc is not None else None
        return n.TableDecl(
            str(name), self.desc(t), self.string(file) or "", tuple(keys), tuple(columns), vfrom, vuntil,
            self.span(t.meta), self.tspan(name), clause_lines=lines, sources=self.sources_of(t),
            source_column=source_column,
        )

    def source(self, t: Tree[Token]) -> n.SourceRef:
        k = self.kids(t)
        if t.data == "source_text":
            return n.SourceRef(None, self.string(k[0]), self.span(t.meta))
        return n.SourceRef(str(k[0]), self.desc(t), self.span(t.meta), self.tspan(k[0]))

    def rule(self, t: Tree[Token]) -> n.Rule:
        k = self.kids(t)
        name = k[0]
        sources: list[n.SourceRef] = []
        vfrom = vuntil = None
        exceptions: list[tuple[str, Span]] = []
        when = value = None
        target = target_span = None
        because = None
        counts: dict[str, int] = {}
        lines: dict[str, int] = {}
        for c in k[1:]:
            kind = str(c.data)
            lines.setdefault(kind, self.span(c.meta).line)
            if kind == "desc":
                continue
            counts[kind] = counts.get(kind, 0) + 1
            ck = self.kids(c)
            if kind in ("source_ref", "source_text"):
                sources.append(self.source(c))
            elif kind == "valid_from":
                vfrom = _date(ck[0])
                until = self.sub(c, "until")
                if until is not None:
                    vuntil = _date(self.kids(until)[0])
                    counts["valid_until"] = counts.get("valid_until", 0) + 1
            elif kind == "valid_until":
                vuntil = _date(ck[0])
            elif kind == "exception":
                exceptions.append((str(ck[0]), self.tspan(ck[0])))
            elif kind == "when":
                when = self.expr(ck[0])
            elif kind == "then":
                target, target_span = str(ck[0]), self.tspan(ck[0])
                value = self.expr(ck[2])
            elif kind == "because":
                because = self.string(ck[0])
        return n.Rule(
            str(name), self.desc(t), tuple(sources), vfrom, vuntil, tuple(e for e, _ in exceptions), when, target,
            value, because, self.span(t.meta), target_span, tuple(s for _, s in exceptions), counts, self.tspan(name),
            clause_lines=lines,
        )

    # ------------------------------------------------------------ expressions

    def expr(self, t: Tree[Token] | Token) -> n.Expr:
        if isinstance(t, Token):  # pragma: no cover - every expression token sits in a tree
            raise AssertionError(f"unexpected token {t!r}")
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _TooDeep(self.span(t.meta))
            return self._expr(t)
        finally:
            self.depth -= 1

    def chain(self, t: Tree[Token]) -> n.Expr:
        """`a or b or c …` (or `and`): read flat, without recursion, and built as a balanced tree.

        Both operators are associative in three-valued logic, so the shape does not change the
        meaning, and a generated list of hundreds of alternatives stays shallow.
        """
        op = str(t.data)
        operands: list[Tree[Token]] = []
        stack: list[Tree[Token]] = [t]
        while stack:
            node = stack.pop()
            if isinstance(node, Tree) and node.data == op:
                kids = self.kids(node)
                stack.append(kids[1])
                stack.append(kids[0])
            else:
                operands.append(node)
        built = [self.expr(o) for o in operands]
        return _balanced(op[:-3], built)

    def _expr(self, t: Tree[Token]) -> n.Expr:
        sp = self.span(t.meta)
        d = str(t.data)
        if d.endswith("_lit") and d not in ("list_lit", "tuple_lit"):
            return self.literal(t)
        k = self.kids(t)
        if d == "var":
            return n.Var(tuple(str(c) for c in _ch(t)), sp)
        if d == "call":
            args = tuple(self.expr(a) for a in k[1:])
            return n.Call(str(k[0]), args, sp)
        if d == "aggregate_call":  # checked into an Aggregate: `sum(person.income where person.age >= 18)`
            return n.Call(str(k[0]), (self.expr(k[1]),), sp, where=self.expr(k[2]))
        if d == "round_call":
            unit = mode = None
            for c in _ch(t):
                if isinstance(c, Tree) and c.data == "round_unit":
                    unit = ROUND_UNITS[_ch(c)[0].type]
                elif isinstance(c, Tree) and c.data == "round_mode":
                    mode = ROUND_MODES[_ch(c)[0].type]
            return n.Call(str(_ch(t)[0]), (self.expr(k[0]),), sp, unit, mode)
        if d == "conditional":
            return n.Conditional(self.expr(k[0]), self.expr(k[1]), self.expr(k[-1]), sp)
        if d == "lookup":
            return n.Lookup(str(k[0]), tuple(self.expr(a) for a in k[1:-1]), str(k[-1]), sp)
        if d == "list_lit":
            return n.ListLit(tuple(self.expr(a) for a in k), sp)
        if d == "tuple_lit":
            return n.TupleLit(tuple(self.expr(a) for a in k), sp)
        if d in ("or_op", "and_op"):
            return self.chain(t)
        if d == "not_op":
            return n.Unary("not", self.expr(k[0]), sp)
        if d == "compare":
            op = {"≠": "!=", "≤": "<=", "≥": ">="}.get(str(k[1]), str(k[1]))
            return n.Binary(op, self.expr(k[0]), self.expr(k[2]), sp)
        if d == "in_op":
            return n.Binary("in", self.expr(k[0]), self.expr(k[1]), sp)
        if d == "not_in_op":
            return n.Binary("notin", self.expr(k[0]), self.expr(k[1]), sp)
        if d in ("is_known", "is_missing"):
            return n.IsKnown(self.expr(k[0]), d == "is_missing", sp)
        if d == "arith":
            op = "*" if str(k[1]) == "×" else str(k[1])
            return n.Binary(op, self.expr(k[0]), self.expr(k[2]), sp)
        if d == "sign":
            return n.Unary(str(k[0]), self.expr(k[1]), sp)
        raise AssertionError(f"unknown expression {d}")  # pragma: no cover

    def literal(self, t: Tree[Token]) -> n.Literal:
        sp = self.span(t.meta)
        d = str(t.data)
        tok = _ch(t)[0]
        text = str(tok)
        if d in ("int_lit", "decimal_lit", "percent_lit", "money_lit", "duration_lit"):
            # an amount in Dutch notation (`€ 2.112,–`) is checked once it is read, as its digits
            why = _number_problem(text) if d != "money_lit" or any(
                c.isdigit() and not c.isascii() for c in text) else None
            if why is None and d == "money_lit":
                try:
                    why = _number_problem(format(parse_amount(text.lstrip("€ \t")), "f"))
                except AmountError:
                    pass  # reported below, with how to write it
            if why is not None:  # reported, and read as 0 so that the rest of the file is read as written
                self.problems.append(Diagnostic("error", "syntax", f"`{_shown(text)}` is not a valid number ({why})",
                                                self.tspan(tok), language=self.language))
                text = "0" if d != "money_lit" else "€ 0"
        if d == "int_lit":
            return n.Literal(int(text), "integer", sp, text)
        if d == "decimal_lit":
            return n.Literal(Decimal(text), "decimal", sp, text)
        if d == "percent_lit":
            return n.Literal(Decimal(text.rstrip("% \t")) / 100, "decimal", sp, text)
        if d == "money_lit":
            try:
                amount = parse_amount(text.lstrip("€ \t"))
            except AmountError as e:
                raise _BadAmount(tok, str(e), e.hint) from None
            return n.Literal(amount, "money", sp, text)
        if d == "date_lit":
            return n.Literal(_date(tok), "date", sp, text)
        if d == "string_lit":
            return n.Literal(self.string(tok), "text", sp, text)
        if d == "true_lit":
            return n.Literal(True, "boolean", sp, text)
        if d == "false_lit":
            return n.Literal(False, "boolean", sp, text)
        if d == "duration_lit":
            unit = _ch(t)[1].type[3:].lower()
            return n.Literal(n.Duration(int(text), unit), "duration", sp, f"{text} {_ch(t)[1]}")
        raise AssertionError(d)  # pragma: no cover


def _balanced(op: str, operands: list[n.Expr]) -> n.Expr:
    if len(operands) == 1:
        return operands[0]
    mid = len(operands) // 2
    left, right = _balanced(op, operands[:mid]), _balanced(op, operands[mid:])
    a, b = left.span, right.span
    return n.Binary(op, left, right, Span(a.file, a.line, a.column, b.end_line, b.end_column))


def _ch(t: Tree[Token]) -> list[Any]:
    """A tree's children, typed loosely: the grammar decides what they are."""
    return list(t.children)


def _date(tok: Token) -> dt.date:
    try:
        return dt.date.fromisoformat(str(tok))
    except ValueError as e:
        raise _BadDate(tok, str(e)) from None


class _BadDate(Exception):
    def __init__(self, tok: Token, why: str) -> None:
        self.tok = tok
        self.why = why


def _number_problem(text: str) -> str | None:
    """What is wrong with a number literal, if anything: digits other than 0-9, or out of the bounds every value
    keeps (values.MAX_DIGITS)."""
    body = text.lstrip("€ \t").rstrip("% \t").replace(",", ".")
    whole, _, fraction = body.partition(".")
    if not (whole.isascii() and whole.isdigit() and (not fraction or (fraction.isascii() and fraction.isdigit()))):
        return "write numbers with the digits 0-9"
    if len(whole.lstrip("0")) > MAX_DIGITS:
        return f"it is out of range: a number has at most {MAX_DIGITS} digits before the decimal point"
    if len(fraction) > MAX_FRACTION_DIGITS:
        return f"a number has at most {MAX_FRACTION_DIGITS} digits after the decimal point"
    return None


def _shown(text: str) -> str:
    """A token as a message quotes it: long ones cut short."""
    return text if len(text) <= 40 else text[:30] + "…"


class _BadAmount(Exception):
    def __init__(self, tok: Token, why: str, hint: str) -> None:
        self.tok = tok
        self.why = why
        self.hint = hint


class _TooDeep(Exception):
    def __init__(self, span: Span) -> None:
        self.span = span


ROUND_UNITS = {"KW_TO_CENTS": "cents", "KW_TO_EUROS": "euros"}
ROUND_MODES = {"KW_HALF_UP": "half_up", "KW_HALF_EVEN": "half_even", "KW_DOWN": "down", "KW_UP": "up",
               "KW_TOWARDS_ZERO": "towards_zero"}
"""The rounding a rule names, by keyword (the same in every keyword set): unit and mode as nodes.Call keeps them."""

MAX_NESTING = 100
"""How deeply one expression may nest (`and`/`or` chains do not count: they are read flat)."""


def _too_deep(e: _TooDeep, language: str) -> Diagnostic:
    return Diagnostic(
        "error", "syntax",
        f"this expression nests more than {MAX_NESTING} levels deep",
        e.span,
        hint="split it into derived values, each with its own rule",
        language=language,
    )


# ---------------------------------------------------------------- front door


def parse_text(text: str, path: str = "<text>") -> tuple[n.RuleFile | None, list[Diagnostic]]:
    """Parse one rule file. Returns the file (None if nothing could be read) and syntax diagnostics.

    After a syntax error the rest of the file is still read, declaration by declaration, and a
    declaration with an error is read without its broken clause, so that one run reports
    every error and the checker can go on with what was read (see ``RuleFile.unparsed``).
    """
    language = detect_language(text)
    if language is None:
        m = _LANG_LINE.match(text)
        assert m is not None
        line = text[: m.start(2)].count("\n") + 1
        col = m.start(2) - (text.rfind("\n", 0, m.start(2)) + 1) + 1
        return None, [
            Diagnostic(
                "error", "syntax", f"unknown language `{m.group(2)}`", Span(path, line, col),
                "write `language english` or `taal nederlands` on the first line",
                language="nederlands" if m.group(1) == "taal" else "english",
            )
        ]
    parser = parser_for(language)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]  # where each line starts: positions by bisection

    def comment(m: re.Match[str]) -> n.Comment:
        k = bisect.bisect_right(starts, m.start()) - 1
        return n.Comment(k + 1, m.start() - starts[k] + 1, m.group(0), bool(text[starts[k]:m.start()].strip()))

    comments = tuple(comment(m) for m in re.finditer(r"#[^\n]*", _mask_strings(text)))
    builder = _Builder(path, language)
    try:
        tree = parser.parse(text)
        ruleset, items = builder.file(tree)
        return n.RuleFile(path, language, ruleset, tuple(items), comments), builder.problems
    except UnexpectedInput as e:
        first = _syntax_error(e, path, language, text).diagnostic
    except _BadDate as e:
        first = _bad_date(e, builder, language)
    except _BadAmount as e:
        first = _bad_amount(e, builder, language)
    except _TooDeep as e:
        first = _too_deep(e, language)
    builder.problems.clear()  # the pieces are read again
    ruleset, items, unparsed, diagnostics = _recover(text, path, language, builder)
    if not diagnostics:  # pragma: no cover - the pieces always show the error the whole file had
        diagnostics = [first]
    seen = {(d.span.line, d.span.column) for d in diagnostics}
    diagnostics += [d for d in builder.problems if (d.span.line, d.span.column) not in seen]
    diagnostics.sort(key=lambda d: (d.span.line, d.span.column))
    return n.RuleFile(path, language, ruleset, tuple(items), comments, tuple(unparsed)), diagnostics


def _bad_date(e: _BadDate, builder: _Builder, language: str) -> Diagnostic:
    return Diagnostic("error", "syntax", f"`{e.tok}` is not a valid date ({e.why})", builder.tspan(e.tok),
                      language=language)


def _bad_amount(e: _BadAmount, builder: _Builder, language: str) -> Diagnostic:
    return Diagnostic("error", "syntax", e.why, builder.tspan(e.tok), e.hint, language=language)


def _mask_strings(text: str) -> str:
    return re.sub(r'"([^"\\\n]|\\.)*"', lambda m: " " * len(m.group(0)), text)


ITEM_TERMINALS = {"KW_INPUT": "input", "KW_DERIVED": "derived", "KW_OUTPUT": "output", "KW_PEILDATUM": "peildatum",
                  "KW_PARAMETER": "parameter", "KW_TABLE": "table", "KW_RULE": "rule",
                  "KW_CHANGE": "change", "KW_REPLACE": "change", "KW_ADD_TO": "change", "KW_SWITCH": "change",
                  "KW_GROUP": "group"}
HEADER_TERMINALS = {"KW_LANGUAGE": "ruleset", "KW_RULESET": "ruleset", "KW_SCENARIO": "ruleset"}
CLAUSE_TERMINALS = ("KW_TITLE", "KW_SOURCE", "KW_URL", "KW_DEFAULT", "KW_FROM", "KW_FILE", "KW_KEY", "KW_COLUMN",
                    "KW_VALID_FROM", "KW_VALID_UNTIL", "KW_EXCEPTION_TO", "KW_WHEN", "KW_THEN", "KW_BECAUSE",
                    "KW_FIELD")
MAX_REPAIRS = 50
"""How many broken clauses of one declaration are read past before the rest of it is left unread."""


def _leading(masked_line: str, terminals: Iterable[str], language: str, fuzzy: bool) -> str | None:
    """The terminal whose keyword starts the line (``fuzzy``: also a slip of one letter or two)."""
    table = keyword_table(language)
    body = masked_line.lstrip(" \t")
    words = re.match(r"\w+(?:[ \t]+\w+){0,3}", body)
    if words is None:
        return None
    written = words.group(0).split()
    for terminal in terminals:
        keyword = table[terminal]
        count = keyword.count(" ") + 1
        if " ".join(written[:count]) == keyword:
            return terminal
    if not fuzzy or len(written[0]) < 3:
        return None
    if written[0] in _first_words(language):
        return None  # another keyword, written right
    for terminal in terminals:
        keyword = table[terminal]
        count = keyword.count(" ") + 1
        limit = 1 if len(keyword) <= 5 else 2
        if len(written) >= count and typo_distance(" ".join(written[:count]).lower(), keyword, limit) <= limit:
            return terminal
    return None


def _first_words(language: str) -> set[str]:
    return {w.split()[0] for w in keyword_table(language).values()}


def _starts_declaration(masked_line: str, language: str) -> bool:
    """A declaration starts here: its keyword, or at the start of the line a slip of it followed by a name."""
    if _leading(masked_line, ITEM_TERMINALS, language, fuzzy=False) is not None:
        return True
    if masked_line[:1] in (" ", "\t") or not re.match(r"\w+[ \t]+[^\W\d]", masked_line):
        return False
    return _leading(masked_line, ITEM_TERMINALS, language, fuzzy=True) is not None


def _starts_clause(masked_line: str, language: str) -> bool:
    body = masked_line.lstrip(" \t")
    if body.startswith(("=", '"')) or (not body.strip() and masked_line.strip()):
        return True
    return _leading(masked_line, CLAUSE_TERMINALS, language, fuzzy=True) is not None


def _recover(
    text: str, path: str, language: str, builder: _Builder
) -> tuple[n.Ruleset | None, list[n.Item], list[n.Unparsed], list[Diagnostic]]:
    """Read the file again in pieces, one declaration each (the header is the first), keeping line numbers."""
    lines = text.split("\n")
    masked = _mask_strings(text).split("\n")
    bounds = sorted({0} | {i for i, ml in enumerate(masked) if _starts_declaration(ml, language)}) + [len(lines)]
    ruleset: n.Ruleset | None = None
    items: list[n.Item] = []
    unparsed: list[n.Unparsed] = []
    diagnostics: list[Diagnostic] = []
    for a, b in zip(bounds, bounds[1:]):
        piece = lines[a:b]
        if not "\n".join(masked[a:b]).replace("#", "").strip():
            continue
        following = lines[b] if b < len(lines) else None
        r, its, found = _read_piece(piece, masked[a:b], a, following, path, language, builder)
        diagnostics.extend(found)
        if r is not None:
            ruleset = ruleset or r
        if its is not None:
            # read without a broken clause: a rule, an input, an output or a derived value is still checked (what
            # the lost clause said is left to the checker to doubt); a parameter or a table is not (a lost value
            # or column would give errors of its own)
            items.extend(i for i in its if isinstance(i, (n.Rule, n.InputDecl, n.OutputDecl, n.DerivedDecl)) or not found)
        if found:
            unparsed.extend(_unparsed(piece, masked[a:b], a, path, language, its or [], r, its is not None,
                                      first=a == 0))
    diagnostics.sort(key=lambda d: (d.span.line, d.span.column))
    return ruleset, items, unparsed, diagnostics


def _read_piece(
    piece: list[str], masked: list[str], offset: int, following: str | None, path: str, language: str,
    builder: _Builder,
) -> tuple[n.Ruleset | None, list[n.Item] | None, list[Diagnostic]]:
    """Parse one declaration; at an error, correct a misspelt keyword or leave the broken clause out, and read on.

    Returns the ruleset and the items read (None if the declaration could not be read), and the errors.
    """
    parser = parser_for(language)
    work = list(piece)
    found: list[Diagnostic] = []
    last = (0, 0)
    left_out: set[str] = set()
    header = next((i for i, ml in enumerate(masked) if ml.strip() and not ml.lstrip().startswith("#")), 0)
    for _ in range(MAX_REPAIRS):
        chunk = "\n".join(work)
        try:
            tree = parser.parse(chunk)
            builder.offset = offset
            try:
                ruleset, items = builder.file(tree)
            finally:
                builder.offset = 0
            return ruleset, items, found
        except UnexpectedInput as e:
            error = _piece_error(e, chunk, following, path, language, offset)
        except _BadDate as e:
            builder.offset = offset
            error = _Found(_bad_date(e, builder, language), e.tok.line or 1)
            builder.offset = 0
        except _BadAmount as e:
            builder.offset = offset
            error = _Found(_bad_amount(e, builder, language), e.tok.line or 1)
            builder.offset = 0
        except _TooDeep as e:
            error = _Found(_too_deep(e, language), e.span.line - offset)
        where = (error.diagnostic.span.line, error.diagnostic.span.column)
        if where <= last or (left_out and error.wants and error.wants <= left_out):
            break  # no progress, or the clause left out was needed: what follows would only repeat this error
        last = where
        found.append(error.diagnostic)
        if error.fix is not None:
            line, column, length, keyword = error.fix
            text = work[line - 1]
            work[line - 1] = text[: column - 1] + keyword + text[column - 1 + length:]
            continue
        start = min(max(error.blame, 1), len(work)) - 1
        while start > header and not _starts_clause(masked[start], language):
            start -= 1
        own = start  # the clause the error is in: left out to its end
        while start > header and _open_at_end(masked[:start], language):
            start -= 1  # the clause before goes on into this line (`… en` at its end): it is broken too
            while start > header and not _starts_clause(masked[start], language):
                start -= 1
        if start <= header:
            break  # the declaration's own first line is broken: it cannot be read
        end = own + 1
        while end < len(work) and not _starts_clause(masked[end], language):
            end += 1
        terminal = _leading(masked[start], CLAUSE_TERMINALS, language, fuzzy=True)
        if terminal is not None:
            left_out.add(terminal)
        for i in range(start, end):
            work[i] = ""
    return None, None, found


def _open_at_end(lines: list[str], language: str) -> bool:
    """Does the last line with code end in an operator, so that the next line goes on with its expression?"""
    for line in reversed(lines):
        code = line.split("#", 1)[0].rstrip()
        if not code:
            continue
        table = keyword_table(language)
        words = {table[t] for t in ("KW_AND", "KW_OR", "KW_NOT", "KW_IN")}
        last = re.search(r"(\w+)$", code)
        return code[-1] in "+-*/=<>(,[≠≤≥×" or (last is not None and last.group(1) in words)
    return False


def _piece_error(e: UnexpectedInput, chunk: str, following: str | None, path: str, language: str,
                 offset: int) -> _Found:
    """The error of a piece; one that reaches the piece's end is shown where the next declaration starts."""
    at_end = isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END")
    if at_end and following is not None:
        longer = chunk + "\n" + following
        try:
            parser_for(language).parse(longer)
        except UnexpectedInput as again:
            error = _syntax_error(again, path, language, longer, offset)
            if error.diagnostic.message.startswith("the expression before"):
                return _Found(error.diagnostic, min(error.blame, chunk.count("\n") + 1), None, error.wants)
        error = _syntax_error(e, path, language, chunk, offset)
        d = error.diagnostic
        message = d.message.replace("the file ends too early", "the declaration ends too early", 1)
        return _Found(replace(d, message=message), error.blame, error.fix, error.wants)
    return _syntax_error(e, path, language, chunk, offset)


def _unparsed(
    piece: list[str], masked: list[str], offset: int, path: str, language: str, items: list[n.Item],
    ruleset: n.Ruleset | None, partial: bool, first: bool,
) -> list[n.Unparsed]:
    """What can be read of a declaration with an error: its kind, name, the values it decides, its sources."""
    table = keyword_table(language)
    targets = []
    sources = []
    then = table["KW_THEN"]
    for ml in masked:
        if _leading(ml, ("KW_THEN",), language, fuzzy=True) is not None:
            m = re.match(r"[ \t]*\w+[ \t]+(\w+)[ \t]*=", ml)
            if m is not None and m.group(1) != then:
                targets.append(m.group(1))
        if first and _leading(ml, ("KW_SOURCE",), language, fuzzy=True) is not None:
            m = re.match(r"[ \t]*\w+[ \t]+(\w+)[ \t]+\"?", ml)
            if m is not None:
                sources.append(m.group(1))
    if items or ruleset is not None:
        out = [n.Unparsed(_kind(i), getattr(i, "name", None), i.span, tuple(dict.fromkeys(
            ([i.target] if isinstance(i, n.Rule) and i.target else []) + targets)), (), partial) for i in items]
        if ruleset is not None:
            out.append(n.Unparsed("ruleset", ruleset.name, ruleset.span, (), tuple(sources), partial))
        return out
    kind = None
    name = None
    line = 0
    for i, ml in enumerate(masked):
        if ml.strip() and not ml.lstrip().startswith("#"):
            terminal = _leading(ml, (*ITEM_TERMINALS, *HEADER_TERMINALS), language, fuzzy=True)
            if terminal is not None:
                kind = {**ITEM_TERMINALS, **HEADER_TERMINALS}[terminal]
                m = re.match(r"[ \t]*" + r"[ \t]+".join([r"\w+"] * (table[terminal].count(" ") + 1))
                             + r"[ \t]+((?!\d)[\w.]+)", ml)
                name = m.group(1) if m is not None and terminal != "KW_LANGUAGE" else None
            line = i
            break
    if first and kind is None:
        kind = "ruleset"
    span = Span(path, offset + line + 1, 1, offset + line + 1, len(piece[line]) + 1 if piece else 1)
    return [n.Unparsed(kind, name, span, tuple(dict.fromkeys(targets)), tuple(sources) if kind == "ruleset" else ())]


def _kind(item: n.Item) -> str:
    return {n.InputDecl: "input", n.DerivedDecl: "derived", n.OutputDecl: "output", n.PeildatumDecl: "peildatum",
            n.ParameterDecl: "parameter", n.TableDecl: "table", n.Rule: "rule", n.GroupDecl: "group"}.get(
                type(item), "change")
