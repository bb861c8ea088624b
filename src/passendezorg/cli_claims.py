"""The `claims`, `receipts` and `ledger` commands: claim processing with receipts, from the command line.

``register(group)`` adds them to a click group (the main CLI calls it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import display
from .cli_options import rules_option
from .errors import PassendeZorgError, UsageError
from .progress import Progress
from .workers import Pool, WorkerFailure, WorkerStartError

log = logging.getLogger("passendezorg.claims")  # what a batch of claims did, under the library's claims logger

if TYPE_CHECKING:
    from .claims import Claim, ClaimError, ClaimProcessor, ClaimResult
    from .store import Receipt, Store

# The store (SQLAlchemy, sqlmodel) is imported only when a command of this module runs: the
# rest of the command line works without the `store` extra, and starts without its imports.
CHUNK = 200  # claims recorded in one transaction: one commit each; a chunk is recorded whole or not at all
ENV_DB = "PASSENDEZORG_DB"
# the defaults of ClaimProcessor (passendezorg.claims), shown in --help without importing it
USED_INPUT = "verzekerde.eigen_risico_verbruikt"
DEDUCTION_OUTPUT = "eigen_risico_inhouding"
PAYOUT_OUTPUT = "vergoeding"


def _need_store() -> None:
    for module in ("sqlalchemy", "sqlmodel"):
        if find_spec(module) is None:
            raise UsageError(f"claim processing needs {module}, which is not installed: "
                             "pip install passendezorg (it comes with it)")


class BatchInterrupted(PassendeZorgError):
    """A batch stopped before its end (a worker died, or it was interrupted)."""

    exit_code = 1


def _rules_dir(rules: str | Path | None) -> Path:
    return Path(rules or os.environ.get("PASSENDEZORG_RULES") or "rules")


def _db_option(f: Any) -> Any:
    return click.option("--db", "db", metavar="URL",
                        help=f"database URL or SQLite file (default: ${ENV_DB}, else ./passendezorg.db)")(f)


def _names_options(f: Any) -> Any:
    f = click.option("--payout-output", default=PAYOUT_OUTPUT, show_default=True,
                     help="output with the amount to pay ('' if the rule book has none)")(f)
    f = click.option("--deduction-output", default=DEDUCTION_OUTPUT, show_default=True,
                     help="output with the eigen risico to deduct")(f)
    f = click.option("--used-input", default=USED_INPUT, show_default=True,
                     help="input that receives the eigen risico already used this year")(f)
    return f


def _euro(v: Decimal, language: str = "english") -> str:
    return display.money(v, language)


# ---------------------------------------------------------------- the batch


@dataclass
class Summary:
    """What a batch did; re-running a batch gives the same totals (its claims' current receipts)."""

    file: str
    read: int = 0
    recorded: int = 0
    unchanged: int = 0
    rejected: list[ClaimResult] = field(default_factory=list)
    insured: set[str] = field(default_factory=set)
    deducted: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    paid_known: bool = False

    def add(self, r: ClaimResult) -> None:
        self.read += 1
        if r.status == "rejected":
            self.rejected.append(r)
            return
        if r.status == "recorded":
            self.recorded += 1
        else:
            self.unchanged += 1
        if r.insured_id is not None:
            self.insured.add(r.insured_id)
        if r.kind != "withdrawal":
            self.deducted += r.deduction or 0
            if r.payout is not None:
                self.paid += r.payout
                self.paid_known = True

    def rejections(self) -> list[ClaimResult]:
        """The rejected claims in file order."""
        def line(r: ClaimResult) -> int:
            tail = (r.where or "").rsplit(":", 1)[-1]
            return int(tail) if tail.isdigit() else 0
        return sorted(self.rejected, key=line)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "claims": self.read, "recorded": self.recorded, "already_recorded": self.unchanged,
            "rejected": len(self.rejected), "insured": len(self.insured),
            "eigen_risico_deducted": str(self.deducted), "paid": str(self.paid) if self.paid_known else None,
            "rejections": [{"where": r.where, "claim_id": r.claim_id, "reason": r.reason} for r in self.rejections()],
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.file}: {self.read} claim(s) for {len(self.insured)} insured person(s)",
            f"  recorded now           {self.recorded}",
            f"  already recorded       {self.unchanged}",
            f"  rejected               {len(self.rejected)}",
            f"  eigen risico deducted  {_euro(self.deducted)}",
        ]
        if self.paid_known:
            out.append(f"  paid                   {_euro(self.paid)}")
        if self.rejected:
            out.append("")
            out.append("rejected claims:")
            for r in self.rejections():
                who = f"claim {r.claim_id}: " if r.claim_id and (not r.where or r.claim_id not in r.where) else ""
                out.append(f"  {r.where or '-'}: {who}{r.reason}")
        return out


class _ClaimsWorker:
    """What a worker process of a claims batch holds: its own processor, with its own database connections."""

    def __init__(self, url: str, rulebook_hash: str, names: dict[str, Any], mode: str) -> None:
        self.url = url
        self.rulebook_hash = rulebook_hash
        self.names = names
        self.mode = mode
        self.processor: ClaimProcessor | None = None

    def start(self) -> None:
        from .claims import ClaimProcessor
        from .store import Store

        store = Store(self.url)
        self.processor = ClaimProcessor(store.load_rulebook(self.rulebook_hash), store, **self.names)

    def __call__(self, claims: list[Claim]) -> list[ClaimResult]:
        assert self.processor is not None
        try:
            return [r.without_receipt() for r in _run(self.processor, claims, self.mode)]
        except PassendeZorgError:
            raise
        except Exception as e:  # a database failure: report it in a form that crosses processes
            raise BatchInterrupted(f"a worker failed: {type(e).__name__}: "
                                   f"{str(e).splitlines()[0] if str(e) else ''}") from None


def _run(processor: ClaimProcessor, claims: list[Claim], mode: str) -> list[ClaimResult]:
    from .claims import ClaimError, ClaimResult

    if mode == "process":
        return processor.process_batch(list(claims))
    out = []
    for claim in claims:
        try:
            out.append(ClaimResult.of(processor.replace(claim), claim.where))
        except ClaimError as e:
            out.append(ClaimResult("rejected", claim.claim_id, claim.insured_id, claim.where, reason=e.message))
    return out


def _chunks(items: Iterator[Claim | ClaimError], size: int) -> Iterator[tuple[list[Claim], list[ClaimError]]]:
    from .claims import ClaimError

    claims: list[Claim] = []
    errors: list[ClaimError] = []
    for item in items:
        if isinstance(item, ClaimError):
            errors.append(item)
        else:
            claims.append(item)
        if len(claims) >= size:
            yield claims, errors
            claims, errors = [], []
    if claims or errors:
        yield claims, errors


def run_batch(path: Path, rules: Path, db: str | None, workers: int, names: dict[str, Any], mode: str = "process",
              progress: bool = False) -> Summary:
    """Process (or, with mode "replace", correct) every claim of a file; bad claims are rejected, not fatal."""
    _need_store()
    from sqlalchemy.exc import DBAPIError

    from .claims import ClaimProcessor, ClaimResult, count_claim_lines, read_claims
    from .rulebook import load_rules
    from .store import StoreError, first_line

    book = load_rules(rules)
    summary = Summary(str(path))
    processor = ClaimProcessor(book, db, **names)
    url = processor.store.url
    meter = Progress(count_claim_lines(path) if progress else 0, "claims", unit="claims", show=progress)

    def done(results: list[ClaimResult]) -> None:
        for r in results:
            summary.add(r)
        meter.add(len(results))

    def rejected(errors: list[ClaimError]) -> list[ClaimResult]:
        return [ClaimResult("rejected", None, None, e.where, reason=e.message) for e in errors]

    try:
        with meter:
            if workers == 1:
                for claims, errors in _chunks(read_claims(path, book), CHUNK):
                    done(rejected(errors) + _run(processor, claims, mode))
            else:
                processor.close()  # each worker opens its own connections
                worker = _ClaimsWorker(url, book.content_hash, names, mode)
                with Pool(worker, workers, init=worker.start, name="a claims worker") as pool:
                    pending: list[list[ClaimError]] = []

                    def claim_chunks() -> Iterator[list[Claim]]:
                        for claims, errors in _chunks(read_claims(path, book), CHUNK):
                            pending.append(errors)
                            yield claims

                    for results in pool.map(claim_chunks()):
                        done(rejected(pending.pop(0)))
                        if isinstance(results, WorkerFailure):
                            if results.kind == "error":
                                raise BatchInterrupted(results.detail)
                            raise BatchInterrupted(f"a worker process stopped unexpectedly ({results.detail})")
                        done(results)
    except WorkerStartError as e:
        raise BatchInterrupted(_interrupted(summary, str(e))) from None
    except KeyboardInterrupt:
        raise BatchInterrupted(_interrupted(summary, "interrupted")) from None
    except BatchInterrupted as e:
        raise BatchInterrupted(_interrupted(summary, str(e))) from None
    except StoreError as e:
        raise BatchInterrupted(f"{e}\nThe batch stopped after {summary.read} claim(s) of {summary.file}; the claims "
                               "recorded so far are kept, and running the same command again finishes the batch "
                               "without counting them twice.") from None
    except DBAPIError as e:
        raise BatchInterrupted(_interrupted(summary, f"the database failed: {first_line(e)}")) from None
    finally:
        processor.close()
    log.info("claims %s: %d read, %d recorded, %d already recorded, %d rejected; eigen risico deducted %s%s",
             path, summary.read, summary.recorded, summary.unchanged, len(summary.rejected), summary.deducted,
             f", paid out {summary.paid}" if summary.paid_known else "")
    return summary


def _interrupted(summary: Summary, what: str) -> str:
    log.warning("claims %s interrupted after %d claim(s): %s", summary.file, summary.read, what)
    return (f"{what} after {summary.read} claim(s) of {summary.file}; the claims recorded so far are kept. "
            "Run the same command again to finish the batch: claims already recorded are not counted twice.")


# ---------------------------------------------------------------- commands


@click.group("claims")
def claims_group() -> None:
    """Process claims: each decision recorded as a receipt, the eigen risico kept in a ledger."""


@claims_group.command("process")
@click.argument("file", type=click.Path(path_type=Path))
@rules_option()
@_db_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="worker processes (claims of one person are still charged one at a time)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_names_options
def process_cmd(file: Path, rules_dir: Path | None, db: str | None, workers: int, fmt: str, used_input: str,
                deduction_output: str, payout_output: str) -> None:
    """Decide the claims of FILE (JSON lines or CSV) and record them.

    Claims already recorded are not processed again, so an interrupted batch can simply be run
    again. Exits 1 if any claim was rejected (the others are recorded).
    """
    _batch(file, rules_dir, db, workers, fmt, used_input, deduction_output, payout_output, "process")


@claims_group.command("correct")
@click.argument("file", type=click.Path(path_type=Path))
@rules_option()
@_db_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_names_options
def correct_cmd(file: Path, rules_dir: Path | None, db: str | None, workers: int, fmt: str, used_input: str,
                deduction_output: str, payout_output: str) -> None:
    """Replace decided claims with the corrected claims of FILE (same claim ids, new facts).

    Each correction is a new receipt; the old deduction is given back in the ledger and the claim
    decided anew. Running the same corrections again changes nothing.
    """
    _batch(file, rules_dir, db, workers, fmt, used_input, deduction_output, payout_output, "replace")


def _batch(file: Path, rules_dir: Path | None, db: str | None, workers: int, fmt: str, used_input: str,
           deduction_output: str, payout_output: str, mode: str) -> None:
    names = {"used_input": used_input, "deduction_output": deduction_output, "payout_output": payout_output or None}
    progress = fmt == "text" and sys.stderr.isatty()
    summary = run_batch(file, _rules_dir(rules_dir), db, workers, names, mode, progress)
    if fmt == "json":
        click.echo(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(summary.lines()))
    sys.exit(1 if summary.rejected else 0)


@claims_group.command("withdraw")
@click.argument("claim_id")
@click.option("--reason", help="why the claim is withdrawn (kept in the receipt)")
@rules_option()
@_db_option
@_names_options
def withdraw_cmd(claim_id: str, reason: str | None, rules_dir: Path | None, db: str | None, used_input: str,
                 deduction_output: str, payout_output: str) -> None:
    """Withdraw a decided claim: a withdrawal receipt, and its deduction given back in the ledger.

    Only this claim's own deduction is reversed; claims decided after it keep theirs.
    """
    _need_store()
    from .claims import ClaimProcessor
    from .rulebook import load_rules

    book = load_rules(_rules_dir(rules_dir))
    with ClaimProcessor(book, db, used_input=used_input, deduction_output=deduction_output,
                        payout_output=payout_output or None) as processor:
        r = processor.withdraw(claim_id, reason)
    state = "withdrawn" if r.new else "already withdrawn"
    click.echo(f"claim {claim_id} {state}: receipt {r.id} (supersedes receipt {r.supersedes})")


@click.group("receipts")
def receipts_group() -> None:
    """Show and replay stored decision receipts."""


def _store(db: str | None) -> Store:
    _need_store()
    from .store import Store

    return Store(db)


RECEIPT_WORDS = {
    "english": {"receipt": "receipt", "claim": "claim", "supersedes": "supersedes receipt", "insured": "insured",
                "peildatum": "peildatum", "rulebook": "rule book", "engine": "engine", "recorded": "recorded",
                "reason": "reason", "deducted": "deducted", "paid": "paid", "facts": "facts", "ledger": "ledger",
                "decision": "decision", "correction": "correction", "withdrawal": "withdrawal",
                "deduction": "deduction", "reversal": "reversal"},
    "nederlands": {"receipt": "bewijsstuk", "claim": "declaratie", "supersedes": "vervangt bewijsstuk",
                   "insured": "verzekerde", "peildatum": "peildatum", "rulebook": "regelboek", "engine": "programma",
                   "recorded": "vastgelegd", "reason": "reden", "deducted": "ingehouden", "paid": "betaald",
                   "facts": "gegevens", "ledger": "eigen-risicoregister", "decision": "beslissing",
                   "correction": "correctie", "withdrawal": "intrekking", "deduction": "inhouding",
                   "reversal": "terugboeking"},
}
"""The words of `receipts show`, in the language of the receipt's rule book."""


def _receipt_text(r: Receipt, store: Store, verbose: bool) -> str:
    """A receipt in the language of its rule book (English when that rule book is no longer at hand)."""
    from .explain import Names, render_decision

    program = None
    book_of: Receipt | None = r
    while book_of is not None and book_of.rulebook is None and book_of.supersedes is not None:
        book_of = store.receipt(book_of.supersedes)  # a withdrawal speaks the language of what it withdraws
    if book_of is not None and book_of.rulebook is not None:
        try:
            program = store.load_rulebook(book_of.rulebook).program
        except PassendeZorgError:
            pass
    language = program.language if program is not None else "english"
    w = RECEIPT_WORDS[language]
    names = Names(program, language)
    rows = [
        (w["insured"], f"{r.insured_id}, {r.year}"),
        (w["peildatum"], display.date(r.peildatum, language)),
        (w["rulebook"], r.rulebook or "-"),
        (w["engine"], f"passendezorg {r.engine_version}"),
        (w["recorded"], f"{display.date(r.created_at.date(), language)} {r.created_at.time().isoformat('seconds')}"),
    ]
    if r.kind == "withdrawal":
        rows.append((w["reason"], r.reason or "-"))
    else:
        rows.append((w["deducted"], _euro(r.deduction, language)
                     + (f"; {w['paid']} {_euro(r.payout, language)}" if r.payout is not None else "")))
    width = max(len(label) for label, _ in rows) + 2
    out = [f"{w['receipt']} {r.id} · {w[r.kind]} · {w['claim']} {r.claim_id} (#{r.seq})"
           + (f" · {w['supersedes']} {r.supersedes}" if r.supersedes else "")]
    out.extend(f"{label:<{width}}{text}" for label, text in rows)
    out.append(w["facts"])
    out.extend(f"  {names.fact(k, v)}" for k, v in r.input.items())
    entries = [e for e in store.ledger(r.insured_id) if e.receipt_id == r.id]
    if entries:
        out.append(w["ledger"])
        out.extend(f"  {w.get(e.entry, e.entry):<12} {_euro(e.amount, language):>12}  {e.insured_id} {e.year}"
                   for e in entries)
    decision = r.decision()
    if decision is not None:
        out.append("")
        out.append(render_decision(decision, language, False, verbose, program=program))
    return "\n".join(out)


@receipts_group.command("show")
@click.argument("receipt_id", type=int, required=False)
@click.option("--claim", "claim_id", help="show every receipt of this claim instead")
@_db_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="also show the derived values behind the outputs")
def show_cmd(receipt_id: int | None, claim_id: str | None, db: str | None, fmt: str, verbose: bool) -> None:
    """Show receipt RECEIPT_ID: the facts, the rule book version, the decision and its ledger entries."""
    if (receipt_id is None) == (claim_id is None):
        raise click.UsageError("give a receipt id, or --claim CLAIM_ID")
    with _store(db) as store:
        from .claims import ClaimError
        from .store import shown_url

        if claim_id is not None:
            found = store.claim_receipts(claim_id)
            if not found:
                raise ClaimError(f"claim {claim_id}", f"no receipt in {shown_url(store.url)}")
        else:
            assert receipt_id is not None
            one = store.receipt(receipt_id)
            if one is None:
                raise ClaimError(None, f"no receipt {receipt_id} in {shown_url(store.url)}")
            found = [one]
        if fmt == "json":
            data = [r.as_dict() for r in found]
            click.echo(json.dumps(data[0] if receipt_id is not None else data, indent=2, ensure_ascii=False))
        else:
            click.echo(("\n\n" + "─" * 60 + "\n\n").join(_receipt_text(r, store, verbose) for r in found))


@receipts_group.command("replay")
@click.argument("receipt_id", type=int)
@_db_option
def replay_cmd(receipt_id: int, db: str | None) -> None:
    """Decide a receipt again with its own stored rule book version: is the decision reproduced exactly?

    Exits 0 if the decision is identical byte for byte, 1 if not.
    """
    with _store(db) as store:
        from .claims import replay

        result = replay(store, receipt_id)
    r = result.receipt
    where = f"rule book {r.rulebook} (stored), engine {result.engine_version} (receipt: {r.engine_version})"
    if result.reproduced:
        click.echo(f"receipt {receipt_id}: reproduced — the decision is identical byte for byte\n  {where}")
        return
    click.echo(f"receipt {receipt_id}: NOT reproduced\n  {where}")
    for d in result.differences:
        click.echo(f"  {d}")
    sys.exit(1)


@click.command("ledger")
@click.argument("insured_id")
@click.option("--year", type=int, help="only this year")
@_db_option
def ledger_cmd(insured_id: str, year: int | None, db: str | None) -> None:
    """Show the eigen risico ledger of an insured person: every entry, and the total per year."""
    with _store(db) as store:
        entries = store.ledger(insured_id, year)
    if not entries:
        click.echo(f"no ledger entries for {insured_id}" + (f" in {year}" if year else ""))
        return
    totals: dict[int, Decimal] = {}
    for e in entries:
        click.echo(f"{e.year}  {e.created_at.isoformat(timespec='seconds')}  {e.entry:<9} {_euro(e.amount):>12}  "
                   f"claim {e.claim_id} (receipt {e.receipt_id})")
        totals[e.year] = totals.get(e.year, Decimal("0.00")) + e.amount
    for y, total in sorted(totals.items()):
        click.echo(f"{y}  eigen risico used: {_euro(total)}")


def register(group: click.Group) -> None:
    """Add the `claims`, `receipts` and `ledger` commands to ``group``."""
    group.add_command(claims_group)
    group.add_command(receipts_group)
    group.add_command(ledger_cmd)
