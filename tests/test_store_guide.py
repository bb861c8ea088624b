"""The insurers' guide runs: every Python block of docs/guide/insurers.md, in order, with the output it shows."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guide" / "insurers.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str | None]]:
    """Each Python block with the text block right after it (its output), if there is one."""
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    out: list[tuple[str, str | None]] = []
    for i, (lang, body, _start, end) in enumerate(found):
        if lang != "python":
            continue
        output = None
        if i + 1 < len(found) and found[i + 1][0] == "text" and not text[end:found[i + 1][2]].strip():
            output = found[i + 1][1]
        out.append((body, output))
    return out


def test_every_python_block_of_the_guide_runs_and_prints_what_it_shows(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PASSENDEZORG_DB", raising=False)
    namespace: dict[str, object] = {"__name__": "guide"}
    found = blocks(GUIDE.read_text(encoding="utf-8"))
    assert len(found) >= 5
    try:
        for n, (code, expected) in enumerate(found, start=1):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"{GUIDE.name} block {n}", "exec"), namespace)
            if expected is not None:
                assert out.getvalue() == expected, f"block {n} of {GUIDE.name} printed something else"
    finally:
        processor = namespace.get("processor")
        close = getattr(processor, "close", None)
        if close is not None:
            close()
