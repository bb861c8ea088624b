"""passendezorg: the rules of the Dutch basic health insurance as checked, explainable code.

The library API for insurers::

    from passendezorg import load_rules
    book = load_rules("rules")
    decision = book.evaluate({"verzekerde": {...}, "behandeling": {...}})
    decision.outputs["verzekerd"].value

    book.decide_many(cases, jobs=0)   # volume: values and deciding rules, on every core
"""

import logging
from typing import TYPE_CHECKING

from .cases import Case
from .errors import CaseError, Diagnostic, PassendeZorgError, RuleBookError, UsageError
from .model import CaseFailure, Decision, FastDecision, OutputDecision, RuleRef, Source, WhyNot, WhyNotReason
from .rulebook import CheckReport, RuleBook, check_path, load_rules
from .version import __version__

if TYPE_CHECKING:  # typed for mypy; imported on first use, since it needs the extra `columnar` (polars, pyarrow)
    from .frames import decide_frame


def __getattr__(name: str) -> object:
    if name == "decide_frame":
        from .frames import decide_frame

        return decide_frame
    raise AttributeError(f"module 'passendezorg' has no attribute {name!r}")

logging.getLogger(__name__).addHandler(logging.NullHandler())  # where the logs go is the application's choice


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
    "WhyNot",
    "WhyNotReason",
    "check_path",
    "decide_frame",
    "load_rules",
    "__version__",
]
