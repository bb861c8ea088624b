"""Where passendezorg keeps what it can rebuild — built parsers and checked rule books — and why it may trust it.

An entry is a pickle, and unpickling runs whatever code the pickle names: whoever can write an
entry can run code as the user who reads it. So, by construction:

- **the folder is private**: it must belong to this user and be writable by no one else; a new
  one is made with mode 0700. A folder that fails this (another user's, group- or world-writable,
  a symbolic link to such a place) is not used at all — neither read nor written — and a
  ``CacheWarning`` says why and what to do. passendezorg goes on without a cache: only slower.
- **every entry is signed**: an HMAC-SHA256 over its name and its bytes, with a key of 32 random
  bytes kept in the folder (``key``, mode 0600). An entry that does not carry this signature
  (written by someone else, copied from elsewhere, damaged) is never unpickled: it is rebuilt,
  with a warning. A signature cannot be made without the key, and the key is readable by this
  user only.
- **writes are atomic and private**: an entry is written to a new file of mode 0600 and renamed
  into place, so a reader never sees half an entry, and no entry is readable by others.

On a platform without POSIX owners and modes (Windows) the folder check is left to the user
profile's permissions; the signatures still hold.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import secrets
import stat
import warnings
from pathlib import Path

MAGIC = b"PZC1"
"""The first bytes of every entry (a new format gets a new one)."""
KEY_FILE = "key"
MAX_ENTRY_BYTES = 512 << 20
_POSIX = os.name == "posix"


class CacheWarning(UserWarning):
    """The cache cannot be trusted or used; passendezorg goes on without it (only slower)."""


def cache_dir() -> Path:
    """``$PASSENDEZORG_CACHE``, else ``$XDG_CACHE_HOME/passendezorg``, else ``~/.cache/passendezorg``."""
    own = os.environ.get("PASSENDEZORG_CACHE")
    if own:
        return Path(own)
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "passendezorg"


_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:  # once per process: a batch does not repeat it for every lookup
        _warned.add(message)
        warnings.warn(message, CacheWarning, stacklevel=3)


def _not_private(st: os.stat_result, what: str) -> str | None:
    """Why a folder or file that passendezorg would read from is not private to this user, or None if it is."""
    if not _POSIX:
        return None
    if st.st_uid != os.geteuid():
        return f"{what} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"{what} can be written by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def trusted_dir(where: Path | None = None) -> Path | None:
    """The cache folder, made private if it is new; None (with a CacheWarning saying why) if it cannot be trusted."""
    where = where if where is not None else cache_dir()
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.stat(where)  # a symbolic link is followed: the folder it leads to is the one that counts
    except OSError as e:
        _warn(f"the cache folder {where} cannot be made or read ({e.strerror or e}); passendezorg goes on without "
              "a cache (set $PASSENDEZORG_CACHE to a folder of your own)")
        return None
    if not stat.S_ISDIR(st.st_mode):
        _warn(f"the cache folder {where} is not a folder; passendezorg goes on without a cache")
        return None
    problem = _not_private(st, f"the cache folder {where}")
    if problem is not None:
        _warn(f"{problem}: what is in it could run code as you, so it is not used. Remove it, or make it yours "
              f"and private (chown $USER {where} && chmod 700 {where}), or set $PASSENDEZORG_CACHE to a folder "
              "of your own; passendezorg goes on without a cache")
        return None
    return where


def _key(where: Path) -> bytes | None:
    """This user's signing key, kept in the folder (made on first use); None, with a warning, if it is not private."""
    path = where / KEY_FILE
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            _make_key(where, path)
            continue
        except OSError as e:
            _warn(f"the cache key {path} cannot be read ({e.strerror or e}); passendezorg goes on without a cache")
            return None
        try:
            st = os.fstat(fd)
            problem = _not_private(st, f"the cache key {path}")
            if problem is None and _POSIX and st.st_mode & 0o077:
                problem = f"the cache key {path} can be read by other users (mode {stat.S_IMODE(st.st_mode):o})"
            if problem is None and not stat.S_ISREG(st.st_mode):
                problem = f"the cache key {path} is not a file"
            if problem is not None:
                _warn(f"{problem}: signatures made with it prove nothing, so the cache is not used. Remove the "
                      "cache folder; passendezorg makes a new one")
                return None
            key = os.read(fd, 64)
        finally:
            os.close(fd)
        if len(key) == 32:
            return key
        _warn(f"the cache key {path} is damaged: the cache is not used. Remove the cache folder; passendezorg makes "
              "a new one")
        return None
    return None  # pragma: no cover - the key was made and removed three times over


def _make_key(where: Path, path: Path) -> None:
    """A new key, written whole to a private file and linked into place (the first of two writers wins)."""
    tmp = _private_file(where, KEY_FILE, secrets.token_bytes(32))
    if tmp is None:
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without links
        try:
            if not path.exists():
                os.replace(tmp, path)
        except OSError:
            pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _private_file(where: Path, name: str, data: bytes) -> Path | None:
    """``data`` in a new file of mode 0600 in ``where``; its path, or None if it cannot be written."""
    tmp = where / f".{name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_BINARY", 0), 0o600)
    except OSError:
        return None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return None
    os.close(fd)
    return tmp


def _signature(key: bytes, name: str, payload: bytes) -> bytes:
    return hmac.new(key, name.encode("utf-8") + b"\0" + payload, hashlib.sha256).digest()


def read_entry(name: str, where: Path | None = None) -> bytes | None:
    """The bytes of entry ``name`` if this user's passendezorg wrote them; None if there is none or it cannot be
    trusted (a CacheWarning says which). Only what this returns may be unpickled."""
    folder = trusted_dir(where)
    if folder is None:
        return None
    key = _key(folder)
    if key is None:
        return None
    path = folder / name
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            _warn(f"the cache entry {path} is a symbolic link: it is not loaded")
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            _warn(f"the cache entry {path} is not a file of passendezorg's: it is not loaded")
            return None
        data = b""
        while len(data) < st.st_size:
            block = os.read(fd, st.st_size - len(data))
            if not block:
                break
            data += block
    except OSError:
        return None
    finally:
        os.close(fd)
    size = len(MAGIC) + 32
    if len(data) < size or not data.startswith(MAGIC) or not hmac.compare_digest(
            data[len(MAGIC):size], _signature(key, name, data[size:])):
        _warn(f"the cache entry {path} does not carry your passendezorg's signature (it was damaged, or not written "
              "by passendezorg for you): it is not loaded, and is made again")
        return None
    return data[size:]


def write_entry(name: str, payload: bytes, where: Path | None = None) -> bool:
    """Keep ``payload`` as entry ``name``, signed, in a private file renamed into place; False if it cannot be kept
    (no cache: only slower next time)."""
    folder = trusted_dir(where)
    if folder is None:
        return False
    key = _key(folder)
    if key is None:
        return False
    tmp = _private_file(folder, name, MAGIC + _signature(key, name, payload) + payload)
    if tmp is None:
        return False
    try:
        os.replace(tmp, folder / name)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
