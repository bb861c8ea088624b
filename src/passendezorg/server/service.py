"""What a running service holds: the rule book (loaded once, shared by every request) and the store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..batch import iter_fast
from ..model import Source
from ..rulebook import RuleBook, load_rules
from ..version import __version__
from .models import NamedInfo, RuleBookInfo, RuleInfo, RulesetInfo, ScenarioInfo, ValueInfo
from .settings import Settings

if TYPE_CHECKING:
    from ..claims import ClaimProcessor
    from ..store import Store


@dataclass
class Service:
    """The rule book, its description, and the claim processor when a database is configured.

    A RuleBook is immutable and safe to share between threads; so is the store's engine
    (SQLAlchemy pools its connections), which the claim processor uses one transaction at a time.
    """

    settings: Settings
    book: RuleBook
    info: RuleBookInfo
    processor: ClaimProcessor | None = field(default=None)
    _infos: dict[str, RuleBookInfo] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def under(self, scenario: str | None) -> RuleBook:
        """The rule book in force, or the rule book under a scenario (checked once, then kept).

        UsageError for a scenario that does not exist; RuleBookError for one that does not check.
        """
        return self.book if scenario is None else self.book.with_scenario(scenario)

    def info_of(self, book: RuleBook) -> RuleBookInfo:
        """The metadata of the rule book in force or of one under a scenario."""
        if book is self.book:
            return self.info
        with self._lock:
            found = self._infos.get(book.content_hash)
            if found is None:
                found = self._infos[book.content_hash] = rulebook_info(book)
            return found

    @property
    def store(self) -> Store | None:
        return self.processor.store if self.processor is not None else None

    @classmethod
    def start(cls, settings: Settings) -> Service:
        """Load and check the rule book (from the compiled cache when unchanged) and open the database."""
        book = load_rules(settings.rules, cache=True, scenarios=settings.scenarios)
        list(iter_fast(book, []))  # compile the fast path now, not in the first batch request
        processor = None
        if settings.db is not None:
            from ..claims import ClaimProcessor

            processor = ClaimProcessor(book, settings.db)
        return cls(settings, book, rulebook_info(book), processor)

    def close(self) -> None:
        if self.processor is not None:
            self.processor.close()


def rulebook_info(book: RuleBook) -> RuleBookInfo:
    """The rule book's metadata: its version (content hash), rulesets, inputs, outputs, rules, parameters, tables,
    the scenarios it can be evaluated under, and the scenario it is under (None: the law in force)."""
    p = book.program
    under = book.scenario
    scenarios = [] if under is not None else [
        ScenarioInfo(name=s.name, title=s.title, sources=[Source(id=x.id, title=x.title, detail=x.detail, url=x.url)
                                                          for x in s.sources]) for s in book.scenarios()]
    refs = [book.rule_ref(r.name) for r in sorted(p.rules.values(), key=lambda r: r.order)]
    return RuleBookInfo(
        content_hash=book.content_hash,
        language=p.language,
        engine_version=__version__,
        peildatum=p.peildatum,
        rulesets=[RulesetInfo(name=r.name, title=r.title,
                              sources=[Source(id=s.name, title=s.title, url=s.url) for s in r.sources])
                  for r in p.rulesets.values()],
        inputs=[ValueInfo(name=d.name, type=str(d.type), choices=list(d.type.choices) or None, description=d.description)
                for d in sorted(p.inputs.values(), key=lambda d: d.name)],
        outputs=[ValueInfo(name=o, type=str(p.values[o].type), choices=list(p.values[o].type.choices) or None,
                           description=p.values[o].description) for o in p.outputs],
        rules=[RuleInfo(name=ref.name, title=ref.title, ruleset=ref.ruleset, decides=p.rules[ref.name].target,
                        exception_to=list(p.rules[ref.name].exception_to), valid_from=p.rules[ref.name].valid_from,
                        valid_until=p.rules[ref.name].valid_until, sources=ref.sources, file=ref.file, line=ref.line)
               for ref in refs],
        parameters=[NamedInfo(name=x.name, description=x.description) for x in p.parameters.values()],
        tables=[NamedInfo(name=t.name, description=t.description) for t in p.tables.values()],
        scenarios=scenarios,
        scenario=None if under is None else ScenarioInfo(
            name=under.name, title=under.title,
            sources=[Source(id=x.id, title=x.title, detail=x.detail, url=x.url) for x in under.sources]),
    )
