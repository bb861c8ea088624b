"""passendezorg: the rules of the Dutch basic health insurance as checked, explainable code.

The library API for insurers::

    from passendezorg import load_rules
    book = load_rules("rules")
    decision = book.evaluate({"verzekerde": {...}, "behandeling": {...}})
    decision.outputs["verzekerd"].value
"""

from .cases import Case
from .errors import CaseError, Diagnostic, PassendeZorgError, RuleBookError, UsageError
from .model import CaseFailure, Decision, OutputDecision, RuleRef, Source
from .rulebook import CheckReport, RuleBook, check_path, load_rules

__version__ = "0.1.0"

__all__ = [
    "Case",
    "CaseError",
    "CaseFailure",
    "CheckReport",
    "Decision",
    "Diagnostic",
    "OutputDecision",
    "PassendeZorgError",
    "RuleBook",
    "RuleBookError",
    "RuleRef",
    "Source",
    "UsageError",
    "check_path",
    "load_rules",
    "__version__",
]
