"""Safe extraction of a dataset archive (.zip or tar, any compression tarfile reads).

Before anything is written, every member is checked: no absolute path, no ``..``, no
link or device, no member over 1 GiB, no compression ratio a zip bomb would need, and
no more than 50 GiB in all; every offender is listed in one error. Then only regular
files and folders are extracted, without the metadata that macOS and Windows archivers
add (``__MACOSX/``, ``._*``, ``.DS_Store``, ``Thumbs.db``). A damaged archive is one
:class:`~tlpipe.errors.PipelineError` that says to download it again. Nothing here
knows the dataset layout: ``prepare_data.py`` finds the dataset in what was extracted.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from tlpipe.errors import PipelineError

MAX_MEMBER_BYTES = 1 << 30  # 1 GiB: no single image in an image-folder dataset is larger
MAX_TOTAL_BYTES = 50 << 30  # 50 GiB uncompressed in all
MAX_COMPRESSION_RATIO = 200  # JPEG/PNG barely compress; zip bombs compress ~1000:1
JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db")
MAX_LISTED = 20  # files listed in an error message before "... and N more"


@dataclass(frozen=True)
class Member:
    """One archive entry, reduced to what the safety checks need."""

    name: str
    size: int
    compressed_size: int
    is_dir: bool
    is_file: bool


def listing(items: list[str]) -> str:
    """``items`` as indented lines of an error message, the first :data:`MAX_LISTED` of
    them and then how many more."""
    shown = "\n  ".join(items[:MAX_LISTED])
    more = f"\n  ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return "\n  " + shown + more


def list_members(archive: Path) -> list[Member]:
    """List a .zip or tar archive; a damaged or unknown archive is a :class:`PipelineError`."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return [_zip_member(info) for info in zf.infolist()]
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                return [
                    Member(t.name, t.size, t.size, t.isdir(), t.isreg()) for t in tf.getmembers()
                ]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise _corrupt(archive, err) from None
    raise _corrupt(archive, "not a zip or tar archive")


def _zip_member(info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16
    is_link = stat.S_ISLNK(mode)
    is_dir = info.is_dir()
    return Member(
        info.filename, info.file_size, info.compress_size, is_dir, not (is_dir or is_link)
    )


def _corrupt(archive: Path, reason: object) -> PipelineError:
    return PipelineError(
        f"{archive}: corrupt or truncated archive ({reason}); delete it and rerun to download "
        "it again, or check data.url"
    )


def is_junk(name: str) -> bool:
    """Metadata folders/files that archivers on macOS and Windows add."""
    return any(part in JUNK or part.startswith("._") for part in PurePosixPath(name).parts)


def check_members(members: list[Member], max_member_bytes: int = MAX_MEMBER_BYTES) -> None:
    """Reject absolute paths, ``..``, links/devices and absurd sizes, listing every offender."""
    problems = []
    total = 0
    for m in members:
        path = PurePosixPath(m.name.replace("\\", "/"))
        if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
            problems.append(f"{m.name}: absolute path")
        elif ".." in path.parts:
            problems.append(f"{m.name}: path escapes the target folder ('..')")
        elif not (m.is_dir or m.is_file):
            problems.append(f"{m.name}: link or special file")
        elif m.size > max_member_bytes:
            problems.append(f"{m.name}: {m.size:,} bytes uncompressed (limit {max_member_bytes:,})")
        elif m.compressed_size and m.size / m.compressed_size > MAX_COMPRESSION_RATIO:
            problems.append(f"{m.name}: compression ratio {m.size / m.compressed_size:.0f}:1")
        total += m.size
    if total > MAX_TOTAL_BYTES:
        problems.append(f"archive expands to {total:,} bytes (limit {MAX_TOTAL_BYTES:,})")
    if problems:
        raise PipelineError(
            "refusing to extract an unsafe archive:"
            + listing(problems)
            + "\n  use an archive of plain files under relative paths"
        )


def extract(archive: Path, target: Path) -> int:
    """Extract regular files and folders (junk skipped) into ``target``; return the file count.

    Folders are extracted too, so that an empty class folder in the archive is seen
    (and rejected) by the layout check instead of silently disappearing.
    """
    members = list_members(archive)
    check_members(members)
    wanted = [m for m in members if (m.is_file or m.is_dir) and not is_junk(m.name)]
    files = [m for m in wanted if m.is_file]
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for m in tqdm(wanted, desc="extract", unit="file", disable=None):
                    dest = target / m.name
                    if m.is_dir:
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(m.name) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive) as tf:
                names = {m.name for m in wanted}
                chosen = [t for t in tf.getmembers() if t.name in names]
                tf.extractall(target, members=chosen, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise _corrupt(archive, err) from None
    return len(files)
