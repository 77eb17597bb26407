"""Output files of the CLI: checked before any work, written safely after it.

Every command that writes a file (``--json``, ``--report``, ``--save``, ``runs export``) passes its
paths through ``check`` before it loads or computes anything, so a path that cannot be written costs
one line and no run, and writes them with ``write`` (or ``staged``, for a file that another library
writes, such as DuckDB's Parquet) at the end. What a path means:

- ``-``, or a path naming the pipe or file that standard output already is (``/dev/stdout``):
  standard output, and the only thing there: the command's tables go to standard error.
- a character device or a FIFO (``/dev/null``, ``/dev/full``, a named pipe), or a link into a
  process's descriptor table (``/dev/stderr``): opened and written in place, never replaced.
- a regular file or a new name: the whole output goes to a temporary file in the same folder,
  which then replaces the target in one rename (``os.replace``), so a reader sees the old file or
  the new one, never half of one, and a failure leaves the old file and no temporary file.
- a symbolic link: followed; its target is written as above and the link stays a link.

Anything else (a folder, a socket, a block device), a missing folder, or a folder or file this user
cannot write is refused with one line naming the option, the path and the problem. A failed write
(a full disk: ``ENOSPC``) is an ``OutputError`` too.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STDOUT = "-"
_DESCRIPTORS = re.compile(r"^/proc/(self|thread-self|\d+)(/task/\d+)?/fd$")  # where /dev/stdout and /dev/fd/N lead


class OutputError(Exception):
    """An output path that cannot be written (found before any work) or a write that failed (after it)."""


@dataclass(frozen=True)
class Output:
    """A checked output path: where its bytes go and how."""

    option: str  # the option or argument that named it, for messages: "--json", "PATH"
    given: str  # the path as the user wrote it
    target: Path | None  # the file written (a link's target); None: standard output
    in_place: bool  # written through an open descriptor (stdout, a device, a FIFO), never replaced
    append: bool = False  # a regular file reached through a descriptor link (/dev/stderr to a log): appended to

    @property
    def to_stdout(self) -> bool:
        return self.target is None

    def __str__(self) -> str:
        return f"{self.option} {self.given}"


def check(option: str, path: str | Path) -> Output:
    """The output ``path`` (given as ``option``) checked: raises ``OutputError`` when it cannot be written."""
    given = str(path)
    if given == STDOUT:
        return Output(option, given, None, True)
    try:
        info = os.stat(given)  # follows links: what the bytes would reach
    except FileNotFoundError:
        info = None  # a new file (or a dangling link, whose target is created)
    except OSError as error:
        raise OutputError(f"{option} {given}: {error.strerror}") from None
    if info is not None:
        if _is_stdout(info):
            return Output(option, given, None, True)
        if stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{option} {given}: is a folder; give a file name")
        descriptor = _through_descriptor(given)
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode) or (descriptor and stat.S_ISREG(info.st_mode)):
            if not os.access(given, os.W_OK):
                raise OutputError(f"{option} {given}: not writable")
            return Output(option, given, Path(given), True, append=descriptor and stat.S_ISREG(info.st_mode))
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{option} {given}: is neither a regular file, a character device nor a FIFO")
    target = Path(os.path.realpath(given))
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"{option} {given}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {given}: the folder {folder} is not writable")
    if info is not None and not os.access(target, os.W_OK):
        raise OutputError(f"{option} {given}: the file {target} is read-only")
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    if len(os.fsencode(target.name)) + STAGED_EXTRA > longest:  # the staged copy's name must fit too
        raise OutputError(f"{option} {given}: the file name is too long (at most {longest - STAGED_EXTRA} bytes here)")
    return Output(option, given, target, False)


def check_all(named: Sequence[tuple[str, str | Path | None]], inputs: Sequence[str | Path | None] = ()) -> list[Output]:
    """``check`` each (option, path) that is given; two outputs may not name the same file or both
    stdout, and no output may be one of the command's ``inputs`` (a scenario, sweep, config or data file)."""
    outputs = [check(option, path) for option, path in named if path is not None]
    for output in outputs:
        for given in inputs:
            if given is None or output.target is None or not output.target.exists():
                continue
            try:
                same = Path(given).exists() and os.path.samefile(output.target, given)
            except OSError:
                same = False
            if same:
                raise OutputError(f"{output.option} {output.given}: is the command's input {given}; writing it would "
                                  "destroy the input")
    seen: dict[str, Output] = {}
    for output in outputs:
        key = "(standard output)" if output.to_stdout else str(output.target)
        if key in seen:
            raise OutputError(f"{seen[key]} and {output} name the same output {key}; give each its own")
        seen[key] = output
    return outputs


def write(items: Sequence[tuple[Output, str | bytes]]) -> None:
    """Write each output's whole text or bytes. Files are staged first and replaced only once every
    output is written, so a failure leaves every file as it was and no temporary file behind."""
    staged: list[tuple[Output, Path]] = []
    try:
        for output, data in items:
            if not output.in_place:
                staged.append((output, _stage(output, _bytes(data))))
        for output, data in items:
            if output.in_place:
                _write_in_place(output, _bytes(data))
        while staged:
            output, temporary = staged[0]
            _replace(output, temporary)
            staged.pop(0)
    finally:
        for _, temporary in staged:
            _remove(temporary)


@contextmanager
def staged(output: Output) -> Iterator[Path]:
    """A file name for a writer that wants one (DuckDB's ``COPY ... TO``): what is written there
    becomes ``output`` when the block ends without an error, and is removed when it raises."""
    if output.in_place:
        with tempfile.TemporaryDirectory(prefix="autopact-") as folder:
            path = Path(folder) / "output"
            yield path
            _write_in_place(output, path.read_bytes())
        return
    temporary = _stage(output, b"")
    try:
        yield temporary
        _replace(output, temporary)
    finally:
        _remove(temporary)


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _is_stdout(info: os.stat_result) -> bool:
    """Whether ``info`` is the pipe, socket or file that standard output is (a terminal or /dev/null
    is a device: written in place, and the tables stay where they are)."""
    try:
        mine = os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):  # a captured stdout has no descriptor
        return False
    return not stat.S_ISCHR(mine.st_mode) and os.path.samestat(info, mine)


def _through_descriptor(path: str) -> bool:
    """Whether resolving ``path`` passes through a process's descriptor table, as /dev/stdout
    (-> /proc/self/fd/1) does: such a link names an open file, which is written, not replaced."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if _DESCRIPTORS.match(os.path.realpath(os.path.dirname(current))):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return False


STAGED_EXTRA = len(".") + len(".12345678.partial")  # what _stage adds to a file name


def _stage(output: Output, data: bytes) -> Path:
    """``data`` in a new temporary file beside the target (with the target's permissions, if it exists)."""
    assert output.target is not None
    temporary = output.target.with_name(f".{output.target.name}.{secrets.token_hex(4)}.partial")
    try:
        mode = stat.S_IMODE(os.stat(output.target).st_mode)
    except FileNotFoundError:
        mode = None
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    except OSError as error:
        raise OutputError(f"{output}: cannot create a file in {temporary.parent}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            if mode is not None:
                os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        _remove(temporary)
        raise OutputError(f"{output}: cannot write {output.target}: {error.strerror}") from None
    return temporary


def _replace(output: Output, temporary: Path) -> None:
    try:
        os.replace(temporary, output.target)
    except OSError as error:
        raise OutputError(f"{output}: cannot replace {output.target}: {error.strerror}") from None


def _write_in_place(output: Output, data: bytes) -> None:
    """Write to standard output, a device, a FIFO or a descriptor link, opened without creating or truncating."""
    try:
        if output.to_stdout:
            sys.stdout.flush()
            stream = getattr(sys.stdout, "buffer", None)
            if stream is None:  # a text-only stdout (a test's capture)
                sys.stdout.write(data.decode())
            else:
                stream.write(data)
            sys.stdout.flush()
            return
        flags = os.O_WRONLY | (os.O_APPEND if output.append else 0)
        descriptor = os.open(output.given, flags)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
        finally:
            os.close(descriptor)
    except BrokenPipeError:
        if output.to_stdout:
            raise  # the reader of standard output went away: cli.main exits quietly, no error to report
        raise OutputError(f"{output}: cannot write: the reading end of the pipe is closed") from None
    except OSError as error:
        raise OutputError(f"{output}: cannot write: {error.strerror or error}") from None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
