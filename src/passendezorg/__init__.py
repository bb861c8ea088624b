"""passendezorg: the rules of the Dutch basic health insurance as checked, explainable code.

The library API for insurers::

    from passendezorg import load_rules
    book = load_rules("rules")
    decision = book.evaluate({"verzekerde": {...}, "behandeling": {...}})
    decision.outputs["verzekerd"].value

    book.decide_many(cases, jobs=0)   # volume: values and deciding rules, on every core
"""

from .cases import Case
from .errors import CaseError, Diagnostic, PassendeZorgError, RuleBookError, UsageError
from .model import CaseFailure, Decision, OutputDecision, RuleRef, Source
from .rulebook import CheckReport, RuleBook, check_path, load_rules
from .version import __version__


def __getattr__(name: str) -> object:
    if name == "decide_frame":  # the columnar engine; needs the extra `columnar` (polars, pyarrow)
        from .frames import decide_frame

        return decide_frame
    if name == "FastDecision":  # the fast path's result; imported on first use (it brings the compiler)
        from .batch import FastDecision

        return FastDecision
    raise AttributeError(f"module 'passendezorg' has no attribute {name!r}")


__all__ = [
    "Case",
    "CaseError",
    "CaseFailure",
    "CheckReport",
    "Decision",
    "Diagnostic",
    "FastDecision",
    "OutputDecision",
    "PassendeZorgError",
    "RuleBook",
    "RuleBookError",
    "RuleRef",
    "Source",
    "UsageError",
    "check_path",
    "decide_frame",
    "load_rules",
    "__version__",
]
