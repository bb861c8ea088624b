"""The store: rule book versions, decision receipts and the eigen risico ledger, in a real database.

A decision an insurer acts on must be defensible later (bezwaar, audit): what was decided,
from which facts, on which rule book version. The store keeps that, append only:

- ``pz_rulebook`` / ``pz_rulebook_file``: every rule book version a decision was made on,
  by content hash, with the full bytes of its rule files and tables, so that any old version
  can be loaded again and a decision replayed;
- ``pz_receipt``: one row per decision, correction or withdrawal of a claim, never updated;
- ``pz_eigen_risico_ledger``: entries per insured person and year (a deduction, or the
  reversal of one); what is used this year is the sum of the entries, never a stored total;
- ``pz_eigen_risico_account``: one row per insured person and year that holds no money and
  exists to be locked, so that the claims of one person are charged one at a time;
- ``pz_schema``: the schema version, so that the store upgrades its own tables.

SQLite (a file, no server) is the default; any SQLAlchemy URL works, and PostgreSQL (psycopg 3)
is supported and tested. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` (writers
queue, with a busy timeout); on PostgreSQL the account row is locked with ``SELECT … FOR UPDATE``.
"""

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, Session, SQLModel, col, select

from .errors import PassendeZorgError, UsageError
from .model import Decision
from .rulebook import RuleBook, load_rules
from .version import __version__

ENV_DB = "PASSENDEZORG_DB"
ENV_DB_TIMEOUT = "PASSENDEZORG_DB_TIMEOUT"
DEFAULT_DB = "sqlite:///passendezorg.db"
SCHEMA_VERSION = 1
ENGINE_VERSION = __version__
SQLITE_BUSY_TIMEOUT_MS = 60_000
"""How long a SQLite writer waits for another one's lock before the store gives up (``$PASSENDEZORG_DB_TIMEOUT``
in seconds changes it)."""

ReceiptKind = Literal["decision", "correction", "withdrawal"]


class StoreError(PassendeZorgError):
    """The database cannot be opened or is not in a state this version can use."""

    exit_code = 1


# ------------------------------------------------------------------ tables


def _utcnow() -> dt.datetime:
    """Now, in UTC: every timestamp in the store is UTC."""
    return dt.datetime.now(dt.UTC)


class SchemaInfo(SQLModel, table=True):
    __tablename__ = "pz_schema"

    id: int = Field(default=1, primary_key=True)
    version: int
    updated_at: dt.datetime = Field(default_factory=_utcnow)


class RuleBookVersion(SQLModel, table=True):
    __tablename__ = "pz_rulebook"

    hash: str = Field(primary_key=True, max_length=80)
    root: str = Field(sa_type=sa.Text, description="the folder it was loaded from, when it was first stored")
    language: str = Field(max_length=40)
    file_count: int
    engine_version: str = Field(max_length=40)
    created_at: dt.datetime = Field(default_factory=_utcnow)


class RuleBookFile(SQLModel, table=True):
    __tablename__ = "pz_rulebook_file"

    rulebook_hash: str = Field(primary_key=True, max_length=80, foreign_key="pz_rulebook.hash")
    path: str = Field(primary_key=True, max_length=400)
    content: bytes = Field(sa_type=sa.LargeBinary)


class Account(SQLModel, table=True):
    """The lock for the claims of one insured person in one year (holds no money)."""

    __tablename__ = "pz_eigen_risico_account"

    insured_id: str = Field(primary_key=True, max_length=200)
    year: int = Field(primary_key=True)
    created_at: dt.datetime = Field(default_factory=_utcnow)


class ReceiptRow(SQLModel, table=True):
    __tablename__ = "pz_receipt"
    __table_args__ = (sa.UniqueConstraint("claim_id", "seq", name="uq_pz_receipt_claim_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(index=True, max_length=200)
    seq: int = Field(description="1 for the first decision on the claim, then 2, 3, … for each correction")
    kind: str = Field(max_length=20)
    supersedes: int | None = Field(default=None, foreign_key="pz_receipt.id")
    insured_id: str = Field(index=True, max_length=200)
    year: int
    peildatum: dt.date
    claim_hash: str = Field(max_length=80, description="hash of the insured person and the claim's typed facts")
    input_json: str = Field(sa_type=sa.Text, description="the facts evaluated, the ledger's amount included")
    rulebook_hash: str | None = Field(default=None, max_length=80, foreign_key="pz_rulebook.hash")
    engine_version: str = Field(max_length=40)
    outputs_json: str = Field(sa_type=sa.Text)
    explanation: str | None = Field(default=None, sa_type=sa.Text, description="the full decision JSON")
    deduction_cents: int = Field(sa_type=sa.BigInteger)
    payout_cents: int | None = Field(default=None, sa_type=sa.BigInteger)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = Field(default_factory=_utcnow)


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "pz_eigen_risico_ledger"
    __table_args__ = (sa.Index("ix_pz_ledger_account", "insured_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    insured_id: str = Field(max_length=200)
    year: int
    claim_id: str = Field(index=True, max_length=200)
    receipt_id: int = Field(foreign_key="pz_receipt.id")
    amount_cents: int = Field(sa_type=sa.BigInteger, description="positive: deducted; negative: given back")
    entry: str = Field(max_length=20, description="deduction or reversal")
    created_at: dt.datetime = Field(default_factory=_utcnow)


TABLES: list[sa.Table] = [t.__table__ for t in (SchemaInfo, RuleBookVersion, RuleBookFile,  # type: ignore[union-attr]
                                                 Account, ReceiptRow, LedgerEntry)]
ACCOUNT: sa.Table = Account.__table__  # type: ignore[attr-defined]
RECEIPT: sa.Table = ReceiptRow.__table__  # type: ignore[attr-defined]
LEDGER: sa.Table = LedgerEntry.__table__  # type: ignore[attr-defined]

# Upgrade steps: UPGRADES[n] turns a version-n schema into version n+1 (new tables are made by
# create_all before the steps run; a step changes what create_all cannot: columns, data).
UPGRADES: dict[int, Callable[[Connection], None]] = {}


# ------------------------------------------------------------------ what callers see


def cents(amount: Decimal) -> int:
    """An amount in whole euro cents; an amount with fractions of a cent is an error."""
    c = amount * 100
    if c != c.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(c)


def euros(amount_cents: int) -> Decimal:
    return (Decimal(amount_cents) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Receipt:
    """A stored decision, correction or withdrawal of one claim, as read from the store.

    ``new`` says whether the call that returned it recorded it (False: the claim had been
    decided before and the stored receipt is returned unchanged).
    """

    id: int
    claim_id: str
    seq: int
    kind: ReceiptKind
    supersedes: int | None
    insured_id: str
    year: int
    peildatum: dt.date
    claim_hash: str
    input: dict[str, Any]
    rulebook: str | None
    engine_version: str
    outputs: dict[str, Any]
    explanation: str | None
    deduction: Decimal
    payout: Decimal | None
    reason: str | None
    created_at: dt.datetime
    new: bool = field(default=False, compare=False)

    @classmethod
    def from_row(cls, row: Any, new: bool = False) -> "Receipt":
        """From a row of pz_receipt (anything with its columns as attributes)."""
        return cls(
            id=row.id, claim_id=row.claim_id, seq=row.seq, kind=row.kind,
            supersedes=row.supersedes, insured_id=row.insured_id, year=row.year, peildatum=row.peildatum,
            claim_hash=row.claim_hash, input=json.loads(row.input_json), rulebook=row.rulebook_hash,
            engine_version=row.engine_version, outputs=json.loads(row.outputs_json), explanation=row.explanation,
            deduction=euros(row.deduction_cents),
            payout=euros(row.payout_cents) if row.payout_cents is not None else None,
            reason=row.reason, created_at=row.created_at, new=new,
        )

    def decision(self) -> Decision | None:
        """The full reasoned decision this receipt recorded (None for a withdrawal)."""
        return Decision.model_validate_json(self.explanation) if self.explanation is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "claim_id": self.claim_id, "seq": self.seq, "kind": self.kind,
            "supersedes": self.supersedes, "insured_id": self.insured_id, "year": self.year,
            "peildatum": self.peildatum.isoformat(), "rulebook": self.rulebook, "engine_version": self.engine_version,
            "input": self.input, "outputs": self.outputs,
            "deduction": str(self.deduction), "payout": str(self.payout) if self.payout is not None else None,
            "reason": self.reason, "created_at": self.created_at.isoformat(),
            "decision": json.loads(self.explanation) if self.explanation is not None else None,
        }


@dataclass(frozen=True)
class Entry:
    """One entry of the eigen risico ledger."""

    id: int
    insured_id: str
    year: int
    claim_id: str
    receipt_id: int
    amount: Decimal
    entry: str
    created_at: dt.datetime


# ------------------------------------------------------------------ URLs and engines


def database_url(url: str | None = None) -> str:
    """The database to use: ``url``, else $PASSENDEZORG_DB, else ./passendezorg.db (SQLite).

    A plain file path means a SQLite file; ``postgresql://`` means PostgreSQL through psycopg 3.
    """
    url = url or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" not in url:
        return "sqlite:///" + str(Path(url).expanduser().resolve())
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def shown_url(url: str) -> str:
    """A URL safe to print: the password hidden."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def busy_timeout_ms() -> int:
    """How long a SQLite writer waits for a lock: ``$PASSENDEZORG_DB_TIMEOUT`` seconds, else one minute."""
    raw = os.environ.get(ENV_DB_TIMEOUT)
    if not raw:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"${ENV_DB_TIMEOUT} is {raw!r}; give the number of seconds to wait for a lock") from None
    if not 0 <= seconds <= 86_400:
        raise UsageError(f"${ENV_DB_TIMEOUT} is {raw!r}; give a number of seconds from 0 to 86400")
    return int(seconds * 1000)


def _sqlite_setup(engine: Engine) -> None:
    """Let the store, not pysqlite, begin transactions, and begin them IMMEDIATE: writers queue."""
    timeout = busy_timeout_ms()

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {timeout}")
        cur.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        u = sa.make_url(url)
    except ArgumentError:
        raise UsageError(f"not a database URL: {url!r} (try sqlite:///claims.db or "
                         "postgresql+psycopg://user@host/db)") from None
    kwargs: dict[str, Any] = {}
    if u.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": busy_timeout_ms() / 1000, "check_same_thread": False}
        if u.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
        elif u.database:
            parent = Path(u.database).expanduser().parent
            if not parent.is_dir():
                raise StoreError(f"cannot open the database {shown_url(url)}: folder {parent} does not exist")
    elif u.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(u, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise UsageError(f"no driver for the database URL {shown_url(url)}: {e}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    return engine


def _parts(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def first_line(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


# ------------------------------------------------------------------ what went wrong with a SQLite file


def sqlite_problem(e: BaseException, url: str) -> StoreError | None:
    """A clear StoreError for what SQLite reports about its file (locked, damaged, not a database, read-only),
    saying what to do; None for anything else (a constraint, a server database), which callers handle."""
    if isinstance(e, IntegrityError) or not isinstance(e, DBAPIError):
        return None
    try:
        u = sa.make_url(url)
    except ArgumentError:
        return None
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    path = Path(u.database or "").expanduser()
    text = first_line(e).lower()
    if "locked" in text or "busy" in text:
        seconds = busy_timeout_ms() / 1000
        holders = lock_holders(path)
        who = ("; it is held by " + ", ".join(f"process {pid} ({cmd})" for pid, cmd in holders)) if holders else ""
        return StoreError(f"the database {path} is locked by another writer for longer than {seconds:g} s{who}. "
                          "Wait until it is done and run the command again, or stop it; "
                          f"${ENV_DB_TIMEOUT} sets how many seconds to wait")
    if "not a database" in text:
        return StoreError(f"{path} is not a SQLite database (or it is encrypted): passendezorg keeps its store in a "
                          "SQLite file of its own; give the path of that file, or a new file name")
    if "malformed" in text or "corrupt" in text:
        return StoreError(f"the database {path} is damaged (SQLite: {first_line(e)}). Restore it from a backup; "
                          f"`sqlite3 {path} .recover` can rescue what it still holds into a new file")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"the database {path} cannot be written (SQLite: {first_line(e)}): make the file and its "
                          f"folder {path.parent} writable for this user, or give another --db")
    if "unable to open" in text:
        return StoreError(f"cannot open the database {path}: SQLite could not open or create it (and the -wal and "
                          f"-shm files beside it). Make sure the folder {path.parent} exists and is writable for this "
                          "user, or give another --db")
    if "disk i/o" in text or "full" in text:
        return StoreError(f"the database {path} cannot be written: {first_line(e)}. Check that the disk has room "
                          "and works, then run the command again")
    return None


def lock_holders(path: Path) -> list[tuple[int, str]]:
    """The other processes that hold a lock on a SQLite file (or its -wal and -shm files), with their command
    lines; where the platform cannot tell (no /proc/locks), those that have the file open; else nothing."""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    keys: set[tuple[int, int, int]] = set()
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        keys.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    me = os.getpid()
    pids: list[int] = []
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) < 6 or "->" in fields:  # a process waiting for the lock, not holding it
                    continue
                try:
                    pid = int(fields[4])
                    major, minor, inode = fields[5].split(":")
                    key = (int(major, 16), int(minor, 16), int(inode))
                except ValueError:
                    continue
                if key in keys and pid not in (me, -1) and pid not in pids:
                    pids.append(pid)
    except OSError:
        pass
    if not pids:
        pids = _processes_with_open(files, me)
    out = []
    for pid in pids[:5]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read(4096).replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            cmd = ""
        out.append((pid, (cmd[:120] + "…" if len(cmd) > 120 else cmd) or "command unknown"))
    return out


def _processes_with_open(files: list[Path], me: int) -> list[int]:
    """Processes (other than this one) with one of ``files`` open, from /proc/<pid>/fd (Linux; else none)."""
    wanted = set()
    for f in files:
        try:
            wanted.add(str(f.resolve()))
        except OSError:
            continue
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{entry}/fd/{fd}") in wanted:
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found


# ------------------------------------------------------------------ the store


class Store:
    """A connection to the store's database; makes or upgrades its tables when opened.

    Thread- and process-safe in the sense that matters here: several processes may open the
    same database and process claims at once. Do not share one Store across a fork; open one
    per process.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self._rulebooks: dict[str, RuleBook] = {}
        try:
            with self._translated():
                self._setup_schema()
        except OperationalError as e:
            self.engine.dispose()
            raise StoreError(f"cannot open the database {shown_url(self.url)}: {first_line(e)}") from None
        except BaseException:
            self.engine.dispose()
            raise

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """What SQLite says about its file (locked too long, damaged, not a database, read-only) as a StoreError."""
        try:
            yield
        except DBAPIError as e:
            problem = sqlite_problem(e, self.url)
            if problem is None:
                raise
            raise problem from None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({shown_url(self.url)!r})"

    # ---------------------------------------------------------- schema

    def _setup_schema(self) -> None:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # several workers may open a new database at once: one makes the tables
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(72417305)"))
            SQLModel.metadata.create_all(conn, tables=TABLES, checkfirst=True)
            version = conn.execute(sa.select(SchemaInfo.__table__.c.version)).scalar()  # type: ignore[attr-defined]
            if version is None:
                conn.execute(sa.insert(SchemaInfo.__table__).values(  # type: ignore[attr-defined]
                    id=1, version=SCHEMA_VERSION, updated_at=_utcnow()))
            elif version > SCHEMA_VERSION:
                raise StoreError(f"the database {shown_url(self.url)} has store schema version {version}, made by a "
                                 f"newer passendezorg; this version ({ENGINE_VERSION}) knows up to {SCHEMA_VERSION}")
            elif version < SCHEMA_VERSION:
                for v in range(version, SCHEMA_VERSION):
                    UPGRADES[v](conn)
                conn.execute(sa.update(SchemaInfo.__table__).values(  # type: ignore[attr-defined]
                    version=SCHEMA_VERSION, updated_at=_utcnow()))

    def schema_version(self) -> int:
        with self.session() as s:
            return int(s.exec(select(SchemaInfo.version)).one())

    # ---------------------------------------------------------- transactions

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session whose transaction commits when the block ends and rolls back on an error."""
        with self._translated(), Session(self.engine, expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction that commits when the block ends and rolls back on an error."""
        with self._translated(), self.engine.begin() as conn:
            yield conn

    def lock_accounts(self, conn: Connection, accounts: Iterable[tuple[str, int]]) -> None:
        """Take the locks of these (insured person, year) accounts until the transaction ends.

        On PostgreSQL the rows are made if missing and locked with one ``SELECT … ORDER BY …
        FOR UPDATE``: every writer locks in the same order, so two writers cannot deadlock. On
        SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE), so
        this only makes sure the rows exist.
        """
        keys = sorted(set(accounts))
        if not keys:
            return
        t = ACCOUNT
        now = _utcnow()
        rows = [{"insured_id": i, "year": y, "created_at": now} for i, y in keys]
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt: Any = sqlite_insert(t).values(rows).on_conflict_do_nothing()
            else:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                stmt = pg_insert(t).values(rows).on_conflict_do_nothing()
            conn.execute(stmt)
        else:
            for row in rows:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(t), row)
                except IntegrityError:
                    pass
        if self.dialect != "sqlite":
            for part in _parts(keys, 500):
                conn.execute(sa.select(t.c.insured_id, t.c.year)
                             .where(sa.tuple_(t.c.insured_id, t.c.year).in_(part))
                             .order_by(t.c.insured_id, t.c.year).with_for_update()).all()

    # ---------------------------------------------------------- rule books

    def save_rulebook(self, book: RuleBook) -> str:
        """Keep this rule book version (its files, byte for byte) unless it is kept already."""
        h = book.content_hash
        if h in self._rulebooks:
            return h
        p = book.program
        try:
            with self.session() as s:
                if s.get(RuleBookVersion, h) is None:
                    s.add(RuleBookVersion(hash=h, root=str(getattr(p, "root", "") or ""), language=p.language,
                                          file_count=len(p.files), engine_version=ENGINE_VERSION))
                    s.flush()
                    for path, content in sorted(p.files.items()):
                        s.add(RuleBookFile(rulebook_hash=h, path=path, content=bytes(content)))
        except IntegrityError:
            pass  # another process stored the same version at the same moment
        self._rulebooks[h] = book
        return h

    def rulebook_files(self, h: str) -> dict[str, bytes]:
        with self.session() as s:
            rows = s.exec(select(RuleBookFile).where(RuleBookFile.rulebook_hash == h)).all()
            if not rows:
                raise StoreError(f"rule book {h} is not in the store")
            return {r.path: bytes(r.content) for r in rows}

    def materialise_rulebook(self, h: str, folder: Path) -> Path:
        """Write the stored files of rule book ``h`` under ``folder`` and return it."""
        for rel, content in self.rulebook_files(h).items():
            target = (folder / rel).resolve()
            if folder.resolve() not in target.parents:
                raise StoreError(f"rule book {h}: stored file name {rel!r} points outside its folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return folder

    def load_rulebook(self, h: str) -> RuleBook:
        """The rule book version ``h`` as it was: its stored files written to a temporary folder and loaded."""
        book = self._rulebooks.get(h)
        if book is not None:
            return book
        with tempfile.TemporaryDirectory(prefix="passendezorg-rulebook-") as tmp:
            book = load_rules(self.materialise_rulebook(h, Path(tmp)))
        if book.content_hash != h:
            raise StoreError(f"the stored files of rule book {h} load as {book.content_hash}: the store is damaged "
                             "or the files were changed")
        self._rulebooks[h] = book
        return book

    def rulebooks(self) -> list[RuleBookVersion]:
        with self.session() as s:
            return list(s.exec(select(RuleBookVersion).order_by(col(RuleBookVersion.created_at))).all())

    # ---------------------------------------------------------- receipts and ledger

    def receipt(self, receipt_id: int) -> Receipt | None:
        with self.transaction() as conn:
            row = conn.execute(sa.select(RECEIPT).where(RECEIPT.c.id == receipt_id)).first()
            return Receipt.from_row(row) if row is not None else None

    def claim_receipts(self, claim_id: str, conn: Connection | None = None) -> list[Receipt]:
        """Every receipt of a claim, oldest first; the last is the claim's current state."""
        q = sa.select(RECEIPT).where(RECEIPT.c.claim_id == claim_id).order_by(RECEIPT.c.seq)
        if conn is not None:
            return [Receipt.from_row(r) for r in conn.execute(q)]
        with self.transaction() as c:
            return [Receipt.from_row(r) for r in c.execute(q)]

    def receipts(self, insured_id: str | None = None, year: int | None = None, limit: int | None = None,
                 ) -> list[Receipt]:
        q = sa.select(RECEIPT)
        if insured_id is not None:
            q = q.where(RECEIPT.c.insured_id == insured_id)
        if year is not None:
            q = q.where(RECEIPT.c.year == year)
        q = q.order_by(RECEIPT.c.id)
        if limit is not None:
            q = q.limit(limit)
        with self.transaction() as conn:
            return [Receipt.from_row(r) for r in conn.execute(q)]

    def claim_chains(self, conn: Connection, claim_ids: Iterable[str]) -> dict[str, list[Receipt]]:
        """The receipts of each of these claims that has any, oldest first."""
        out: dict[str, list[Receipt]] = {}
        for part in _parts(sorted(set(claim_ids)), 500):
            q = sa.select(RECEIPT).where(RECEIPT.c.claim_id.in_(part)).order_by(RECEIPT.c.claim_id, RECEIPT.c.seq)
            for r in conn.execute(q):
                out.setdefault(r.claim_id, []).append(Receipt.from_row(r))
        return out

    def add_receipts(self, conn: Connection, rows: list[dict[str, Any]]) -> list[Receipt]:
        """Record receipts, in one statement; the store gives each its ``id`` and ``created_at``."""
        if not rows:
            return []
        now = _utcnow()
        rows = [{**r, "created_at": now} for r in rows]
        if len(rows) == 1:
            ids = [conn.execute(sa.insert(RECEIPT).returning(RECEIPT.c.id), rows[0]).scalar_one()]
        else:
            stmt = sa.insert(RECEIPT).returning(RECEIPT.c.id, sort_by_parameter_order=True)
            ids = list(conn.execute(stmt, rows).scalars())
        return [Receipt.from_row(SimpleNamespace(id=i, **r), new=True) for i, r in zip(ids, rows, strict=True)]

    def add_entries(self, conn: Connection, entries: list[dict[str, Any]]) -> None:
        """Add ledger entries (insured_id, year, claim_id, receipt_id, amount_cents, entry), in one statement."""
        if entries:
            now = _utcnow()
            conn.execute(sa.insert(LEDGER), [{**e, "created_at": now} for e in entries])

    def used_cents(self, conn: Connection, insured_id: str, year: int) -> int:
        return self.used_cents_many(conn, [(insured_id, year)])[(insured_id, year)]

    def used_cents_many(self, conn: Connection, accounts: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The eigen risico used, in cents, of each (insured person, year): the sum of its ledger entries."""
        keys = set(accounts)
        out = dict.fromkeys(keys, 0)
        for part in _parts(sorted({i for i, _ in keys}), 500):
            q = (sa.select(LEDGER.c.insured_id, LEDGER.c.year, sa.func.sum(LEDGER.c.amount_cents))
                 .where(LEDGER.c.insured_id.in_(part), LEDGER.c.year.in_(sorted({y for _, y in keys})))
                 .group_by(LEDGER.c.insured_id, LEDGER.c.year))
            for insured, year, total in conn.execute(q):
                if (insured, year) in out:
                    out[(insured, year)] = int(total)
        return out

    def claim_net_cents(self, conn: Connection, claim_id: str, insured_id: str, year: int) -> int:
        q = sa.select(sa.func.coalesce(sa.func.sum(LEDGER.c.amount_cents), 0)).where(
            LEDGER.c.claim_id == claim_id, LEDGER.c.insured_id == insured_id, LEDGER.c.year == year)
        return int(conn.execute(q).scalar_one())

    def eigen_risico_used(self, insured_id: str, year: int) -> Decimal:
        """The eigen risico deducted from this person in this year: the sum of the ledger's entries."""
        with self.transaction() as conn:
            return euros(self.used_cents(conn, insured_id, year))

    def ledger(self, insured_id: str, year: int | None = None) -> list[Entry]:
        q = sa.select(LEDGER).where(LEDGER.c.insured_id == insured_id)
        if year is not None:
            q = q.where(LEDGER.c.year == year)
        with self.transaction() as conn:
            return [Entry(id=e.id, insured_id=e.insured_id, year=e.year, claim_id=e.claim_id, receipt_id=e.receipt_id,
                          amount=euros(e.amount_cents), entry=e.entry, created_at=e.created_at)
                    for e in conn.execute(q.order_by(LEDGER.c.id))]

    def totals(self) -> dict[tuple[str, int], Decimal]:
        """Eigen risico used per (insured person, year), over the whole ledger."""
        q = sa.select(LEDGER.c.insured_id, LEDGER.c.year, sa.func.sum(LEDGER.c.amount_cents)).group_by(
            LEDGER.c.insured_id, LEDGER.c.year)
        with self.transaction() as conn:
            return {(i, y): euros(int(c)) for i, y, c in conn.execute(q)}

    def counts(self) -> dict[str, int]:
        """How many rows each kind of record has (for summaries and checks)."""
        with self.transaction() as conn:
            def one(q: Any) -> int:
                return int(conn.execute(q).scalar_one())
            return {
                "receipts": one(sa.select(sa.func.count()).select_from(RECEIPT)),
                "claims": one(sa.select(sa.func.count(sa.distinct(RECEIPT.c.claim_id)))),
                "ledger_entries": one(sa.select(sa.func.count()).select_from(LEDGER)),
                "rulebooks": one(sa.select(sa.func.count()).select_from(RuleBookVersion.__table__)),  # type: ignore[attr-defined]
            }

    def check_integrity(self) -> list[str]:
        """Problems that must never exist; an empty list when the books are consistent.

        Every claim's ledger entries add up to the deduction of its current receipt (nothing for a
        withdrawn claim), in the account of that receipt, and every claim's receipts are numbered
        1, 2, 3, … without a gap.
        """
        problems: list[str] = []
        with self.transaction() as conn:
            rows = list(conn.execute(sa.select(RECEIPT).order_by(RECEIPT.c.claim_id, RECEIPT.c.seq)))
            net: dict[tuple[str, str, int], int] = {}
            for claim_id, insured, year, amount in conn.execute(
                    sa.select(LEDGER.c.claim_id, LEDGER.c.insured_id, LEDGER.c.year, sa.func.sum(LEDGER.c.amount_cents))
                    .group_by(LEDGER.c.claim_id, LEDGER.c.insured_id, LEDGER.c.year)):
                net[(claim_id, insured, year)] = int(amount)
        current: dict[str, Any] = {}
        last_seq: dict[str, int] = {}
        for r in rows:
            seq = last_seq.get(r.claim_id, 0) + 1
            if r.seq != seq:
                problems.append(f"claim {r.claim_id}: receipt {r.id} has seq {r.seq}, expected {seq}")
            last_seq[r.claim_id] = r.seq
            current[r.claim_id] = r
        for claim_id, r in current.items():
            want = 0 if r.kind == "withdrawal" else r.deduction_cents
            got = net.pop((claim_id, r.insured_id, r.year), 0)
            if got != want:
                problems.append(f"claim {claim_id}: ledger holds {euros(got)}, its receipt {r.id} deducted {euros(want)}")
        for (claim_id, insured, year), amount in net.items():
            if amount:
                problems.append(f"claim {claim_id}: {euros(amount)} left in the ledger of {insured} {year}")
        return problems
