"""Reading the files of a rule book: regular files inside its folder, of bounded size, and nothing else.

A rule file is data written by someone else. It names its tables (``bestand
"data/x.csv"``), and a rule book may arrive with symbolic links in it; neither
may make passendezorg read, or show a byte of, a file outside the rule book's
folder (``/etc/passwd``, ``/proc/self/environ``), block on a device or a pipe
(``/dev/zero``, a FIFO), or run out of memory on a huge file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_RULE_FILE_BYTES = 8 << 20
"""The largest rule file (``.pz``) passendezorg reads: 8 MiB (a generated book of 50,000 rules fits)."""

MAX_TABLE_FILE_BYTES = 64 << 20
"""The largest table file (CSV) passendezorg reads: 64 MiB."""


class FileRefused(Exception):
    """A file of the rule book that is not read; ``reason`` says why, without any of its content.

    ``missing``: there is no such file (nothing was refused, nothing is there to read).
    """

    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


def resolve_inside(path: Path, folder: Path) -> Path:
    """``path`` with every symbolic link followed, if it exists and lies inside ``folder``; FileRefused if not."""
    try:
        root = Path(os.path.realpath(folder, strict=True))
        real = Path(os.path.realpath(path, strict=True))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FileRefused("it is a symbolic link that loops (it points back to itself)") from None
        raise FileRefused(f"it cannot be found ({e.strerror or 'no such file'})", missing=True) from None
    except ValueError:  # a NUL character in the name
        raise FileRefused("its name holds a character a file name cannot hold") from None
    if real != root and root not in real.parents:
        raise FileRefused(f"it lies outside the rule book's folder {folder} (a symbolic link or `..` pointing out)")
    return real


def read_inside(path: Path, folder: Path, limit: int) -> bytes:
    """The bytes of a regular file inside ``folder`` of at most ``limit`` bytes; FileRefused otherwise."""
    real = resolve_inside(path, folder)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as e:
        raise FileRefused(f"it cannot be read ({e.strerror or e})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("it is not a regular file (a folder, a device or a pipe)")
        if info.st_size > limit:
            raise FileRefused(f"it is larger than {_size(limit)} ({info.st_size:,} bytes)")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            try:
                block = os.read(fd, min(left, 1 << 20))
            except OSError as e:
                raise FileRefused(f"it cannot be read ({e.strerror or e})") from None
            if not block:
                break
            chunks.append(block)
            left -= len(block)
        if left <= 0:
            raise FileRefused(f"it is larger than {_size(limit)}")
        return b"".join(chunks)
    finally:
        os.close(fd)
