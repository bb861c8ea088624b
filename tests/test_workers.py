"""The one process-pool mechanism: results in order, a crash or a hang fails one task, workers die with their parent."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from passendezorg import workers
from passendezorg.workers import Pool, WorkerFailure, WorkerStartError

pytestmark = pytest.mark.skipif(not workers.FORK, reason="worker processes need fork")


def square(x: int) -> int:
    return x * x


def test_results_come_in_task_order_from_several_workers() -> None:
    def slow_square(x: int) -> int:
        time.sleep(0.002 * (x % 5))  # finish out of order
        return x * x

    with Pool(slow_square, 2) as pool:
        assert list(pool.map(range(200))) == [x * x for x in range(200)]
        assert len(pool.pids()) == 2


def test_with_one_task_ahead_per_worker_every_worker_keeps_working() -> None:
    """Reading a result makes room for the next task at once, so no worker waits for another to finish."""
    def pid_after(_x: int) -> int:
        time.sleep(0.05)
        return os.getpid()

    with Pool(pid_after, 2) as pool:
        pids = list(pool.map(range(12), ahead=1))
        assert len(set(pids[2:])) == 2, pids


def test_a_crashed_worker_fails_its_task_only_and_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    def fragile(x: int) -> int:
        if x == 7:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    caplog.set_level(logging.WARNING, logger="passendezorg")
    with Pool(fragile, 2, name="a test worker") as pool:
        out = list(pool.map(range(20)))
    assert [r for r in out if not isinstance(r, WorkerFailure)] == [x for x in range(20) if x != 7]
    failure = out[7]
    assert isinstance(failure, WorkerFailure) and failure.kind == "crash"
    assert failure.detail == "killed by SIGKILL" and "SIGKILL" in failure.reason
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("passendezorg.workers", "WARNING",
         "a test worker stopped on task 7: killed by SIGKILL; a new worker takes its place")]


def test_a_task_past_the_time_limit_is_stopped_and_the_rest_go_on() -> None:
    def maybe_hang(x: int) -> int:
        if x == 3:
            time.sleep(60)
        return x

    began = time.monotonic()
    with Pool(maybe_hang, 2, timeout=0.5) as pool:
        out = list(pool.map(range(6)))
    assert time.monotonic() - began < 20
    assert isinstance(out[3], WorkerFailure) and out[3].kind == "timeout"
    assert [out[k] for k in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]


def test_an_error_in_the_function_fails_its_task_and_the_worker_goes_on() -> None:
    def picky(x: int) -> int:
        if x == 2:
            raise ValueError("two is not allowed")
        return x

    with Pool(picky, 1) as pool:
        out = list(pool.map(range(4)))
        again = pool.pids()
        assert list(pool.map([9])) == [9] and pool.pids() == again  # the same worker served every task
    assert out[:2] == [0, 1] and out[3] == 3
    assert isinstance(out[2], WorkerFailure) and out[2].kind == "error"
    assert out[2].reason == "ValueError: two is not allowed"


def test_a_worker_that_cannot_start_stops_the_run_with_the_reason() -> None:
    def start() -> None:
        raise RuntimeError("no database here")

    with Pool(square, 2, init=start, name="a claims worker") as pool, pytest.raises(WorkerStartError) as info:
        list(pool.map(range(3)))
    assert str(info.value) == "a claims worker could not start: RuntimeError: no database here"
    assert info.value.reason == "RuntimeError: no database here"


def test_init_runs_once_in_each_worker_before_its_tasks() -> None:
    state: list[int] = []

    def start() -> None:
        state.append(os.getpid())

    def whose(_x: int) -> tuple[int, int]:
        return os.getpid(), len(state)

    with Pool(whose, 2, init=start) as pool:
        out = list(pool.map(range(50)))
    assert {n for _pid, n in out} == {1}
    assert os.getpid() not in {pid for pid, _n in out}


def test_call_keeps_its_worker_between_calls() -> None:
    with Pool(square, 1) as pool:
        assert pool.call(3) == 9
        pid = pool.pids()
        assert pool.call(4) == 16 and pool.pids() == pid


def test_without_fork_the_tasks_run_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "FORK", False)

    def here(x: int) -> int:
        if x == 1:
            raise KeyError("one")
        return os.getpid()

    out = list(Pool(here, 4).map(range(3)))
    assert out[0] == out[2] == os.getpid()
    assert isinstance(out[1], WorkerFailure) and out[1].kind == "error"


def test_workers_die_with_a_parent_killed_with_sigkill(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = textwrap.dedent(f"""
        import os, time
        from passendezorg.workers import Pool

        def hang(x):
            time.sleep(600)

        pool = Pool(hang, 2)
        results = pool.map(range(2))
        import threading
        def report():
            while len(pool.pids()) < 2:
                time.sleep(0.05)
            open({str(pids)!r}, "w").write(" ".join(map(str, pool.pids())))
        threading.Thread(target=report, daemon=True).start()
        list(results)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not (pids.exists() and pids.read_text().strip()):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        children = [int(p) for p in pids.read_text().split()]
        assert all(_alive(p) for p in children)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children):
        assert time.monotonic() < deadline, "a worker outlived its parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def _square(x: int) -> int:
    return x * x


def _sum_of_squares_in_a_pool(n: int) -> int:
    with Pool(_square, 2) as inner:
        return sum(r for r in inner.map(range(n)) if not isinstance(r, WorkerFailure))


@pytest.mark.skipif(not workers.FORK, reason="workers are forked")
def test_a_worker_may_run_a_pool_of_its_own() -> None:
    """A batch on two workers inside a worker (the fuzzing command does this): the inner pool starts and its
    workers stop with it."""
    with Pool(_sum_of_squares_in_a_pool, 2) as outer:
        assert list(outer.map([3, 4, 5])) == [5, 14, 30]


def test_a_pool_left_open_does_not_keep_the_program_from_ending(tmp_path: Path) -> None:
    script = tmp_path / "left_open.py"
    script.write_text(textwrap.dedent("""
        from passendezorg.workers import Pool
        pool = Pool(abs, 2)
        print(list(pool.map([-1, -2])))
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[1, 2]"
