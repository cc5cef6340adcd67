"""Unit tests of tlpipe.archive: the safety checks, junk filtering and extraction.

The end-to-end cases (a bomb, a symlink, ``..`` or a damaged member inside a real
archive, through ``prepare_data.prepare``) are in test_prepare_data.py.
"""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from tlpipe.archive import (
    MAX_LISTED,
    MAX_MEMBER_BYTES,
    MAX_TOTAL_BYTES,
    Member,
    check_members,
    extract,
    is_junk,
    list_members,
    listing,
)
from tlpipe.errors import PipelineError

# (name, bytes) of an archive with a dataset, an empty class folder and archivers' junk
CONTENT = {
    "tiny/train/ants/a.jpg": b"a" * 10,
    "tiny/val/bees/b.png": b"b" * 20,
    "__MACOSX/tiny/train/._a.jpg": b"resource fork",
    "tiny/.DS_Store": b"finder",
    "tiny/val/Thumbs.db": b"windows",
}
EMPTY_FOLDER = "tiny/train/bees/"


def write_zip(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo(EMPTY_FOLDER), b"")
        for name, data in CONTENT.items():
            zf.writestr(name, data)
    return path


def write_tar(path):
    with tarfile.open(path, "w:gz") as tf:
        folder = tarfile.TarInfo(EMPTY_FOLDER.rstrip("/"))
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for name, data in CONTENT.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("write", [write_zip, write_tar], ids=["zip", "tar.gz"])
def test_extract_keeps_files_and_folders_and_drops_junk(tmp_path, write):
    archive = write(tmp_path / "data.archive")
    members = {m.name.rstrip("/"): m for m in list_members(archive)}
    assert members["tiny/train/ants/a.jpg"].is_file and members["tiny/train/ants/a.jpg"].size == 10
    assert members[EMPTY_FOLDER.rstrip("/")].is_dir
    target = tmp_path / "out"
    assert extract(archive, target) == 2
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == ["tiny/train/ants/a.jpg", "tiny/val/bees/b.png"]
    assert (target / "tiny/train/ants/a.jpg").read_bytes() == CONTENT["tiny/train/ants/a.jpg"]
    assert (target / EMPTY_FOLDER).is_dir()  # so the layout check can reject it


@pytest.mark.parametrize(
    ("name", "junk"),
    [
        ("__MACOSX/x/a.jpg", True),
        ("x/._a.jpg", True),
        ("x/.DS_Store", True),
        ("Thumbs.db", True),
        ("x/a.jpg", False),
        ("x/.hidden.jpg", False),  # only the archivers' own names, not every dot file
    ],
)
def test_is_junk(name, junk):
    assert is_junk(name) is junk


def test_oversized_member():
    members = [Member("tiny/train/a.jpg", 2_000, 1_500, False, True)]
    check_members(members, max_member_bytes=2_000)
    with pytest.raises(PipelineError, match=r"a\.jpg: 2,000 bytes uncompressed \(limit 1,999\)"):
        check_members(members, max_member_bytes=1_999)


def test_total_size_limit():
    count = MAX_TOTAL_BYTES // MAX_MEMBER_BYTES + 1  # each member allowed, all of them not
    members = [Member(f"x/{i}.jpg", MAX_MEMBER_BYTES, MAX_MEMBER_BYTES, False, True)
               for i in range(count)]  # fmt: skip
    with pytest.raises(PipelineError) as err:
        check_members(members)
    assert str(err.value).splitlines()[1] == (
        f"  archive expands to {count * MAX_MEMBER_BYTES:,} bytes (limit {MAX_TOTAL_BYTES:,})"
    )


def test_windows_drive_and_backslash_paths_are_absolute_or_escaping():
    members = [Member("C:/a.jpg", 1, 1, False, True), Member("x\\..\\..\\a.jpg", 1, 1, False, True)]
    with pytest.raises(PipelineError) as err:
        check_members(members)
    assert str(err.value).splitlines()[1:3] == [
        "  C:/a.jpg: absolute path",
        "  x\\..\\..\\a.jpg: path escapes the target folder ('..')",
    ]


def test_listing_names_the_first_ones_and_counts_the_rest():
    items = [f"f{i}" for i in range(MAX_LISTED + 3)]
    assert listing(items).splitlines()[1:] == [
        *(f"  f{i}" for i in range(MAX_LISTED)),
        "  ... and 3 more",
    ]
    assert listing(["a", "b"]) == "\n  a\n  b"


def test_not_an_archive(tmp_path):
    path = tmp_path / "data.archive"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(PipelineError, match=r"corrupt or truncated archive \(not a zip or tar"):
        list_members(path)
