"""The engines: interchangeable implementations of one semantics (LANGUAGE.md), held equal by tests.

- ``interpreter``: the reference; every value of a case decided and explained (``interpreter.py``).
- ``rete``: rule conditions matched in durable-rules networks (``rete.py``; the optional extra
  ``rete``), with the interpreter's resolution; identical decisions.
- ``compiled`` (the default; ``compiled.py``): the rule book as generated Python: the fast path of
  batches (values and deciding rules per case), and explained decisions from generated code that
  records what an explanation needs (``Explainer``); identical decisions.
- ``columnar``: the rule book as a Polars expression plan for files and frames (``columnar.py``; the
  optional extra ``columnar``): the compiled engine's compact answers, column by column.

Every engine that explains answers ``outcomes(inputs, day)``: the outcome of every derived value
and output of the rule book for one case with typed inputs, read on ``day`` — exactly what the
interpreter gives. ``get(program, name)`` gives the engine of a checked rule book, built once.
The shared pieces of the semantics (outcomes, resolution, operators) are in ``semantics.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import UsageError
from ..program import Program
from .interpreter import Evaluation
from .semantics import Outcome

ENGINES = ("compiled", "interpreter", "rete", "columnar")
"""The engines a decision can be asked of, by name."""

ALIASES = {"native": "interpreter"}
"""Older names that still work."""

DEFAULT = "compiled"


class Engine(Protocol):
    """An engine of one checked rule book: the outcome of every value of a case."""

    name: str

    def outcomes(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        """Every derived value and output of the rule book, decided and explained, for typed inputs on ``day``."""
        ...


class Interpreter:
    """The reference interpreter as an engine."""

    name = "interpreter"

    def __init__(self, program: Program) -> None:
        self.program = program

    def outcomes(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        return Evaluation(self.program, inputs, day).run()


class Compiled:
    """The compiled engine, explaining: generated code that records what an explanation needs (``Explainer``)."""

    name = "compiled"

    def __init__(self, program: Program) -> None:
        from .compiled import compile_explainer

        self.program = program
        # a rule book with groups of facts is compiled per shape of case for batches; its explained decisions
        # come from the interpreter
        self.explainer = compile_explainer(program) if not program.groups else None

    def outcomes(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        if self.explainer is None:
            return Evaluation(self.program, inputs, day).run()
        return self.explainer.outcomes(inputs, day)


class Rete:
    """The rete engine: each case in an isolated worker process (a crash of the C core fails that case only)."""

    name = "rete"

    def __init__(self, program: Program) -> None:
        from . import rete

        rete.require()
        self.program = program

    def outcomes(self, inputs: Mapping[str, Any], day: dt.date) -> dict[str, Outcome]:
        from . import rete

        if self.program.groups:  # groups of facts: the rule book written out for this case's records
            from .expand import restore, written_out

            return restore(rete.evaluate(written_out(self.program, inputs), inputs, day))
        return rete.evaluate(self.program, inputs, day)


def canonical(name: str) -> str:
    """The engine's name, an older name resolved; UsageError for a name that is no engine."""
    found = ALIASES.get(name, name)
    if found not in ENGINES:
        raise UsageError(f"unknown engine `{name}`; the engines are: {', '.join(ENGINES)}")
    return found


def require(name: str) -> str:
    """The canonical name of an engine that can run here; EngineUnavailable (why, and what to do) if it cannot."""
    found = canonical(name)
    if found == "rete":
        from . import rete

        rete.require()
    if found == "columnar":
        require_columnar()
    return found


def require_columnar() -> None:
    """EngineUnavailable, saying what to install, unless Polars and pyarrow import here."""
    from ..errors import EngineUnavailable

    try:
        import polars  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        raise EngineUnavailable(f"the columnar engine needs Polars and pyarrow ({e.name} is not installed); "
                                'install them with: pip install "passendezorg[columnar]"') from None


_BUILT: dict[tuple[int, str], tuple[Program, Engine]] = {}
_LOCK = threading.Lock()


def get(program: Program, name: str = DEFAULT) -> Engine:
    """The engine ``name`` of a checked rule book, built on first use and kept (for the last few rule books)."""
    found = require(name)
    key = (id(program), found)
    with _LOCK:
        kept = _BUILT.get(key)
        if kept is not None and kept[0] is program:
            return kept[1]
        if found == "columnar":
            raise UsageError("the columnar engine decides batches: give a .parquet, .arrow, .csv or .jsonl file "
                             "(`evaluate FILE --engine columnar`) or call decide_frame; an explained decision "
                             "comes from the interpreter")
        engine: Engine = (Compiled(program) if found == "compiled" else Interpreter(program) if found == "interpreter"
                          else Rete(program))
        if len(_BUILT) >= 16:
            _BUILT.clear()
        _BUILT[key] = (program, engine)
        return engine


__all__ = ["ALIASES", "DEFAULT", "ENGINES", "Compiled", "Engine", "Interpreter", "Outcome", "Rete", "canonical", "get", "require"]
