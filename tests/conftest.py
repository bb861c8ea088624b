"""Shared fixtures: small rule books written to a temporary folder, and the golden-file switch."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from passendezorg import RuleBook, load_rules

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"
RULEBOOKS = TESTS / "rulebooks"


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The compiled-rule-book and parser cache of the test run: never the user's own."""
    import os

    os.environ.setdefault("PASSENDEZORG_CACHE", str(tmp_path_factory.mktemp("cache")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="re-record the expected diagnostics of tests/golden/bad (review the diff before committing)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (texts are dedented) and return ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[..., Path]:
    """Write a rule book (one text, or a mapping of files) into a fresh folder and return the folder."""
    counter = iter(range(1_000_000))

    def make(files: str | Mapping[str, str | bytes]) -> Path:
        root = tmp_path / f"book{next(counter)}"
        root.mkdir()
        return write_files(root, {"rules.pz": files} if isinstance(files, str) else files)

    return make


@pytest.fixture
def make_book(make_rules: Callable[..., Path]) -> Callable[..., RuleBook]:
    """Write and load a rule book; the rule book must check without errors."""

    def make(files: str | Mapping[str, str | bytes]) -> RuleBook:
        return load_rules(make_rules(files))

    return make
