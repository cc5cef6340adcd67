"""File helpers: atomic writes, JSON, hashing and hash checks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tlpipe.errors import PipelineError

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20


def current_umask() -> int:
    """The process umask (reading it requires setting it; restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success.

    The temporary file lives in the same directory so the final ``os.replace`` is an
    atomic rename: readers see the old file or the complete new one, never a partial
    one, and a crash leaves nothing at ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file 0600; give it the permissions open() would (shared clusters).
    os.chmod(tmp, 0o666 & ~current_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file for writing that atomically replaces ``path`` on success."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON atomically (stable diffs for DVC/git)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, allow_nan=False)
        handle.write("\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, with a clear error when it is missing or corrupt."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise PipelineError(f"{path}: file not found; run the step that produces it") from None
    except json.JSONDecodeError as err:
        raise PipelineError(f"{path}: not valid JSON ({err}); delete it and rerun") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_matches(actual: str, expected: str) -> bool:
    """Whether a sha256 matches the expected full hash, or hash prefix (fewer than 64
    hex digits, as torchvision puts in its file names and torch.hub checks)."""
    return actual.startswith(expected.lower()) and len(expected) >= 8


def describe_expected(expected: str) -> str:
    """How an expected hash reads in a message: the hash, or that it is a prefix."""
    return (
        expected if len(expected) == 64 else f"a hash starting with {expected} (file-name prefix)"
    )


def verify_sha256(path: str | os.PathLike[str], expected: str | None, what: str) -> str:
    """Check a file's sha256 against ``expected`` (a full hash or a prefix; skipped when
    None); return the hash. ``what`` names the config key to change in the message.
    """
    actual = sha256_file(path)
    if expected is not None and not hash_matches(actual, expected):
        size = os.path.getsize(path)
        raise PipelineError(
            f"{path}: sha256 mismatch: expected {describe_expected(expected)}, got {actual} "
            f"({size:,} bytes). "
            f"The file is corrupt or not the one configured; delete it to download it again, "
            f"or set {what} to the right hash (null skips the check)."
        )
    return actual
