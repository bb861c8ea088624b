"""Worker processes: the one mechanism passendezorg uses to run work on several cores.

A ``Pool`` forks its workers, so each starts with the parent's state — the
compiled rule book, the cases in memory, an open file's name — without
copying or pickling it. Each worker runs one function on the tasks sent to
it and sends back what the function returns; only tasks and results cross
between processes, so both should be small (an index, a range, a chunk of
claims). ``map`` gives the results in task order.

A worker that dies (a crash in a C extension, ``kill -9``) or runs past the
time limit fails its task only: the task's result is a ``WorkerFailure``, the
worker is replaced, and the other tasks go on. Workers die with their
parent (on Linux through ``PR_SET_PDEATHSIG``; elsewhere a watchdog thread
notices), so a killed command leaves no orphans behind. Where processes
cannot be forked, the tasks run in this process, one after another.
"""

from __future__ import annotations

import gc
import io
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import PassendeZorgError

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

FORK = hasattr(os, "fork") and sys.platform != "win32"
"""Can this platform fork worker processes? (Otherwise a Pool runs its tasks in this process.)"""


def cpu_count() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def jobs_for(jobs: int) -> int:
    """The number of workers for a ``jobs`` option: 0 means one per core."""
    return cpu_count() if jobs == 0 else max(1, jobs)


@dataclass(frozen=True)
class WorkerFailure:
    """A task that gave no result: its worker crashed, ran past the time limit, or the function raised."""

    kind: str  # crash, timeout or error
    reason: str  # a sentence for the user
    detail: str = ""  # crash: how the worker ended ("killed by SIGSEGV"); error: the error's text

    def __str__(self) -> str:
        return self.reason


class WorkerStartError(PassendeZorgError):
    """A worker could not start (its set-up failed): no task can run. ``reason`` is the set-up's error."""

    exit_code = 1

    def __init__(self, name: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{name} could not start: {reason}")


class Pool(Generic[T, R]):
    """Forked workers that run ``fn`` on tasks; results in task order, failures per task.

    ``init`` runs once in each new worker before its first task (open a
    database, build an engine); should it fail, ``map`` raises
    WorkerStartError. ``timeout`` bounds one task, in seconds.
    """

    def __init__(self, fn: Callable[[T], R], jobs: int = 0, *, init: Callable[[], None] | None = None,
                 timeout: float | None = None, name: str = "passendezorg-worker") -> None:
        self.fn = fn
        self.jobs = jobs_for(jobs)
        self.init = init
        self.timeout = timeout
        self.name = name
        self._workers: list[_Worker] = []
        self._inline_ready = False
        self._lock = threading.Lock()
        self.closed = False
        # workers are not daemonic (a worker may run a pool of its own): they are stopped when this process exits,
        # before multiprocessing waits for its children, even if the pool was never closed
        from multiprocessing.util import Finalize

        Finalize(self, _stop_all, args=(self._workers,), exitpriority=100)

    # ------------------------------------------------------------ use

    def map(self, tasks: Iterable[T], *, ahead: int = 4, timeout: float | None = None) -> Iterator[R | WorkerFailure]:
        """The result of every task, in task order. At most ``ahead`` tasks per worker wait to be read;
        ``timeout`` (seconds) overrides the pool's limit for these tasks. Not re-entrant: one map at a time."""
        if self.closed:
            raise PassendeZorgError("this worker pool has been closed")
        if not FORK:
            yield from self._inline(tasks)
            return
        with self._lock:
            yield from self._map(iter(tasks), max(1, ahead) * self.jobs, self.timeout if timeout is None else timeout)

    def call(self, task: T, *, timeout: float | None = None) -> R | WorkerFailure:
        """One task in a worker; the worker stays for the next call."""
        (result,) = list(self.map([task], timeout=timeout))
        return result

    def pids(self) -> list[int]:
        """The process ids of the workers running now."""
        return [w.proc.pid for w in self._workers if w.proc.pid is not None and w.proc.is_alive()]

    def close(self) -> None:
        """Stop the workers (they finish nothing more)."""
        self.closed = True
        for w in self._workers:
            w.stop()
        self._workers.clear()

    def __enter__(self) -> Pool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ in this process

    def _inline(self, tasks: Iterable[T]) -> Iterator[R | WorkerFailure]:
        if self.init is not None and not self._inline_ready:
            try:
                self.init()
            except Exception as e:  # noqa: BLE001 - reported like a worker's failed start
                raise WorkerStartError(self.name, _text(e)) from None
            self._inline_ready = True
        for task in tasks:
            try:
                yield self.fn(task)
            except Exception as e:  # noqa: BLE001 - the same contract as in a worker
                yield WorkerFailure("error", _text(e), _text(e))

    # ------------------------------------------------------------ in workers

    def _map(self, tasks: Iterator[T], window: int, timeout: float | None) -> Iterator[R | WorkerFailure]:
        from multiprocessing.connection import wait

        results: dict[int, R | WorkerFailure] = {}
        sent = 0
        following = 0
        exhausted = False
        try:
            while True:
                # the results that are next in order first: reading one makes room for a task in the window
                while following in results:
                    yield results.pop(following)
                    following += 1
                # hand out tasks to idle workers, keeping at most `window` results unread
                while not exhausted and sent - following < window:
                    worker = self._idle()
                    if worker is None:
                        break
                    try:
                        task = next(tasks)
                    except StopIteration:
                        exhausted = True
                        break
                    worker.send(sent, task, timeout)
                    sent += 1
                busy = [w for w in self._workers if w.current is not None]
                if exhausted and not busy:
                    if following < sent:  # pragma: no cover - every task sent has a result
                        raise AssertionError("a task was lost")
                    return
                if not busy:
                    continue
                ready = wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], _wait_time(busy))
                for w in busy:
                    assert w.current is not None
                    index = w.current[0]
                    if w.conn in ready or w.proc.sentinel in ready:
                        outcome = w.receive()
                        if isinstance(outcome, _Fatal):
                            raise WorkerStartError(self.name, outcome.reason)
                        results[index] = outcome
                        if isinstance(outcome, WorkerFailure) and outcome.kind == "crash":
                            log.warning("%s stopped on task %d: %s; a new worker takes its place", self.name, index,
                                        outcome.detail)
                            self._replace(w)
                        elif isinstance(outcome, WorkerFailure):
                            log.warning("%s failed on task %d: %s", self.name, index, outcome.detail)
                    elif w.overdue():
                        results[index] = WorkerFailure(
                            "timeout", f"the task did not finish within {timeout:g} s; it was stopped", f"{timeout:g} s")
                        log.warning("%s ran past %g s on task %d and was stopped; a new worker takes its place",
                                    self.name, timeout, index)
                        self._replace(w)
        except BaseException:
            # interrupted, or the caller stopped reading: no worker goes on with a task nobody waits for
            self.close()
            raise

    def _idle(self) -> _Worker | None:
        for w in self._workers:
            if w.current is None:
                return w
        if len(self._workers) < self.jobs:
            w = _Worker(self.fn, self.init, self.name)
            self._workers.append(w)
            return w
        return None

    def _replace(self, w: _Worker) -> None:
        w.stop()
        self._workers.remove(w)


class _Fatal:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Worker:
    """One forked worker process and the pipe to it."""

    def __init__(self, fn: Callable[[Any], Any], init: Callable[[], None] | None, name: str) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written again by the child
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        self.proc = ctx.Process(target=_serve, args=(fn, init, child, parent), daemon=False, name=name)
        # the worker shares the parent's objects copy-on-write: keep the collector from touching (and so copying) them
        gc.freeze()
        try:
            self.proc.start()
        finally:
            gc.unfreeze()
        child.close()
        self.current: tuple[int, float | None] | None = None

    def send(self, index: int, task: Any, timeout: float | None) -> None:
        self.current = (index, None if timeout is None else time.monotonic() + timeout)
        try:
            self.conn.send((index, task))
        except (OSError, ValueError):
            pass  # the worker is gone: receive() reports it

    def overdue(self) -> bool:
        return self.current is not None and self.current[1] is not None and time.monotonic() >= self.current[1]

    def receive(self) -> Any:
        try:
            if self.conn.poll():
                kind, payload = self.conn.recv()
                self.current = None
                if kind == "ok":
                    return payload
                if kind == "fatal":
                    return _Fatal(payload)
                return WorkerFailure("error", payload, payload)
        except (EOFError, OSError):
            pass
        self.proc.join(1.0)
        self.current = None
        how = exit_text(self.proc.exitcode)
        return WorkerFailure("crash", f"the worker process stopped ({how})", how)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        self.proc.join(0.5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1.0)


def _stop_all(workers: list[_Worker]) -> None:
    for w in workers:
        w.stop()
    workers.clear()


def _wait_time(busy: list[_Worker]) -> float | None:
    deadlines = [w.current[1] for w in busy if w.current is not None and w.current[1] is not None]
    if not deadlines:
        return None
    return max(0.0, min(deadlines) - time.monotonic())


def exit_text(code: int | None) -> str:
    """How a process ended, in words: its exit status or the signal that killed it."""
    if code is None:
        return "it did not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _text(e: BaseException) -> str:
    from .errors import PassendeZorgError

    if isinstance(e, PassendeZorgError):
        return str(e)
    first = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def die_with_parent(parent: int) -> None:
    """In a new child process: end when the parent ends, however it ends (``kill -9`` included)."""
    done = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            done = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            done = False
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os._exit(1)
    if not done:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="passendezorg-parent-watch").start()


def _serve(fn: Callable[[Any], Any], init: Callable[[], None] | None, conn: Any, parent: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    sys.stdout = io.StringIO()  # a worker has no output of its own; stray prints go nowhere
    fatal = None
    if init is not None:
        try:
            init()
        except Exception as e:  # noqa: BLE001 - told to the parent with the first task
            fatal = _text(e)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        _index, task = message
        if fatal is not None:
            conn.send(("fatal", fatal))
            continue
        try:
            reply = ("ok", fn(task))
        except Exception as e:  # noqa: BLE001 - a fault fails this task only; the worker goes on
            reply = ("error", _text(e))
        try:
            conn.send(reply)
        except Exception as e:  # noqa: BLE001 - a result that cannot be sent back fails its task
            conn.send(("error", f"the result could not be sent back: {_text(e)}"))
    os._exit(0)
