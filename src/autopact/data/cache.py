"""A disk cache of derived results that take seconds to compute and never change for given code and
data: the calibrated market of a scenario with its solved baseline (``autopact.simulate.market_for``),
and a scenario's solved central equilibrium (``autopact.simulate.solved``).

An entry is a pickle named by the SHA-256 of its key (what the caller's result depends on, such as
the market year, the market assumptions, households and seed) and of ``code_digest()``: the
contents of every Python and data file of the installed package and the versions of Python, NumPy,
pandas and SciPy. Changing the code, the bundled data or a library gives other names, so an entry
is never stale; writing one removes the entries of other digests. The package's digest is kept in
the cache folder under its files' stat signature (``package_digest``), so a warm run does not read
every file again. An entry holds exactly the
objects the computation returned, so a run that reads it gives the same numbers, to the bit, as one
that computes (``tests/runs/test_cached_market.py``).

Location: ``$AUTOPACT_CACHE``, else ``$XDG_CACHE_HOME/autopact``, else ``~/.cache/autopact``;
``AUTOPACT_CACHE=off`` turns the cache off. Loading a pickle can run code, so an entry is read
only when it and its folder belong to this user and nobody else may write them (the folder is
created with mode 0700). The cache only ever saves time: an entry that is missing, unreadable,
corrupt or not ours is computed again, and a failed write is ignored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "AUTOPACT_CACHE"
OFF = ("off", "0", "false", "no")
SUFFIX = ".pickle"
KEEP = 16  # entries of one kind kept (the last written): a few markets of about 5 MB each


def cache_dir() -> Path | None:
    """The cache folder, or None when ``AUTOPACT_CACHE`` turns the cache off."""
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in OFF or not value.strip() else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autopact"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over every file of the package that can change a result (its Python modules and
    bundled data: ``tree_digest``) and the versions of Python and the numerical libraries."""
    import numpy
    import pandas
    import scipy

    versions = f"{sys.version}|{numpy.__version__}|{pandas.__version__}|{scipy.__version__}"
    return hashlib.sha256(f"{versions}|{package_digest(Path(__file__).resolve().parents[1])}".encode()).hexdigest()


def blas_signature() -> list[list[str]]:
    """The BLAS libraries loaded in this process, each as its kind, the kernels it chose for this
    processor and its thread count now (``threadpoolctl``; their versions are NumPy's and SciPy's,
    in ``code_digest``), without repeats: for the keys of results a BLAS computes. A product split
    over another number of threads or done by other kernels rounds otherwise: ford-byd-jv's
    equilibrium differs in its last bits between one and two OpenBLAS threads, so an entry computed
    under other settings is not what this run would compute. Whether SciPy's copy of OpenBLAS is
    loaded yet (it is in a test session, not yet where ``autopact simulate`` asks) leaves the
    signature as it is when it runs as NumPy's does."""
    try:
        from threadpoolctl import ThreadpoolController

        libraries = ThreadpoolController().info()
    except Exception:  # noqa: BLE001 - threadpoolctl failing: one key for every setting, as before
        return [["unknown"]]
    return sorted({(str(lib.get("internal_api")), str(lib.get("architecture")), str(lib.get("num_threads")))
                   for lib in libraries if lib.get("user_api") == "blas"})


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative path and content of every file under ``root`` (compiled bytecode aside)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix not in (".pyc", ".pyo")):
        digest.update(str(path.relative_to(root).as_posix()).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# A file changed less than this many seconds ago is too recent for the stat signature to stand for its
# content (a file system stamps times at the kernel's clock tick, a few ms): ``package_digest`` then
# hashes the tree and remembers nothing (git's "racily clean" files, handled the same way).
RACY_SECONDS = 2.0
MEMOS = 4  # package digests kept in the cache folder (``package_digest``)


def package_digest(root: Path) -> str:
    """``tree_digest(root)``, remembered in the cache folder under the files' stat signature (``signature``).

    Hashing the package's 4.3 MB of modules and data took 10-40 ms of every run that reads the
    cache (a warm ``autopact simulate``); listing and stat-ing its files takes about 1 ms. A file
    written since has another signature: another size, inode or change time (``st_ctime``, which
    every write, rename or ``touch`` sets to the clock and no tool sets back). A digest is written
    only when every file changed ``RACY_SECONDS`` or more before (so none can change again within
    the same clock tick unseen), and read only from a file that is ours (``_ours``), as an entry is;
    with the cache off, or on any failure, the tree is hashed."""
    folder = cache_dir()
    if folder is None:
        return tree_digest(root)
    try:
        stamp, newest = signature(root)
        memo = folder / f"tree-{stamp[:32]}.digest"
        try:
            with open(memo, "rb") as file:
                info = os.fstat(file.fileno())
                text = file.read(65).decode("ascii")
            if _ours(memo, info) and _ours(folder, os.stat(folder)) and len(text) == 64 \
                    and all(c in "0123456789abcdef" for c in text):
                return text
        except (OSError, UnicodeDecodeError):
            pass
        digest = tree_digest(root)
        if newest < time.time() - RACY_SECONDS:
            _write_text(folder, memo, digest)
        return digest
    except OSError:
        return tree_digest(root)


def signature(root: Path) -> tuple[str, float]:
    """(SHA-256 over the relative path, size, inode, modification and change time of each file that
    ``tree_digest`` reads, the latest of those times in seconds)."""
    digest, newest = hashlib.sha256(), 0.0
    rows = []
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in files:
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(folder, name)
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                continue
            rows.append(f"{os.path.relpath(path, root)}\0{info.st_size}\0{info.st_ino}\0{info.st_mtime_ns}\0"
                        f"{info.st_ctime_ns}\n")
            newest = max(newest, info.st_mtime, info.st_ctime)
    for row in sorted(rows):
        digest.update(row.encode())
    return digest.hexdigest(), newest


def _replace_atomically(folder: Path, path: Path, suffix: str, write: Callable[[Any], None], binary: bool) -> bool:
    """Write ``path`` whole or not at all: ``write(file)`` fills a temporary file in ``folder``, which
    is then renamed into place (removed on any failure). False, writing nothing, where ``folder``
    is not ours (another user could change what we read back)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _ours(folder, os.stat(folder)):
        return False
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=suffix)
    try:
        with os.fdopen(descriptor, "wb" if binary else "w") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _write_text(folder: Path, path: Path, text: str) -> None:
    """Write a memo atomically and keep the ``MEMOS`` written last; a failure is ignored."""
    try:
        if not _replace_atomically(folder, path, ".digest", lambda file: file.write(text), binary=False):
            return
        memos = sorted(folder.glob("tree-*.digest"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in memos[MEMOS:]:
            old.unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - a full disk or a read-only home: the digest stands without its memo
        return


def value_digest(value: Any) -> str:
    """SHA-256 of ``value`` pickled without a memo: every object is written out in full wherever it
    occurs, so the bytes depend on the values alone, not on which equal objects happen to be one
    object (a market freshly calibrated and the same market read back from the cache give one
    digest). For the keys of results computed from arrays (``autopact.simulate.solve_key``,
    ``autopact.fit.recalibration.response_key``). A cyclic object raises ValueError."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo
    pickler.dump(value)
    return hashlib.sha256(buffer.getbuffer()).hexdigest()


def entry_name(kind: str, key: dict[str, Any]) -> str:
    """File name of an entry: its kind, the code digest's head (old entries are found by it) and the key's hash."""
    text = json.dumps({"kind": kind, "key": key}, sort_keys=True, default=repr)
    return f"{kind}-{code_digest()[:16]}-{hashlib.sha256((code_digest() + text).encode()).hexdigest()[:32]}{SUFFIX}"


def stored(kind: str, key: dict[str, Any]) -> bool:
    """Whether ``cached(kind, key, ...)`` finds an entry to read (a file is there; whether it is whole
    and ours is found when it is read)."""
    folder = cache_dir()
    return folder is not None and (folder / entry_name(kind, key)).is_file()


def cached(kind: str, key: dict[str, Any], compute: Callable[[], T], keep: int = KEEP) -> T:
    """``compute()``, or the result a previous call with the same kind, key, code and data stored.

    ``key`` must name everything besides the package's code and data that the result depends on;
    it is hashed as JSON (``repr`` for other values). ``keep``: the entries of this kind kept."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / entry_name(kind, key)
    found = _read(path)
    if found is not None:
        return found[0]
    value = compute()
    _write(folder, path, kind, value, keep)
    return value


def _ours(path: Path, info: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (group or others)."""
    owner = os.getuid() if hasattr(os, "getuid") else info.st_uid
    return info.st_uid == owner and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> tuple[Any] | None:
    """(value,) from an entry that is there, ours and whole; None otherwise."""
    try:
        folder_info = os.stat(path.parent)
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if not (stat.S_ISREG(info.st_mode) and _ours(path, info) and _ours(path.parent, folder_info)):
                return None
            return (pickle.load(file),)
    except Exception:  # noqa: BLE001 - missing, unreadable, truncated or from another version: compute it
        return None


def _write(folder: Path, path: Path, kind: str, value: Any, keep: int = KEEP) -> None:
    """Write an entry atomically (a temporary file renamed into place); remove the entries of this
    kind that other code or data wrote and all but the ``keep`` written last. A failure is ignored."""
    try:
        if not _replace_atomically(folder, path, SUFFIX,
                                   lambda file: pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL), binary=True):
            return
        current = f"{kind}-{code_digest()[:16]}-"
        entries = sorted(folder.glob(f"{kind}-*{SUFFIX}"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        kept = [p for p in entries if p.name.startswith(current)][:keep]
        for old in set(entries) - set(kept):
            old.unlink(missing_ok=True)
    except Exception:  # noqa: BLE001 - a full disk or a read-only home: the result stands without the cache
        return
