"""Unit tests of prepare_data.py on small generated archives.

Each test builds its archive from a few tiny images, so the checks (safe extraction,
manifest, layout, decoding, the quality report, leaving earlier output untouched)
run in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import prepare_data
import pytest
from conftest import main_error_line
from datagen import make_image, make_image_folder, write_manifest, zip_tree
from PIL import Image

from tlpipe.archive import MAX_COMPRESSION_RATIO
from tlpipe.errors import PipelineError
from tlpipe.layout import tree_sha256


def build_tree(root: Path) -> Path:
    """A two-class tree with a skipped .gif, greyscale/RGBA PNGs and two duplicates.

    train: ants 3 (2 JPEG 48x40 + grey PNG 30x20), bees 3 (2 JPEG + a copy of bees_0)
    val:   ants 3 (2 JPEG + a copy of train/ants/ants_1), bees 3 (2 JPEG + RGBA PNG 64x50)
    """
    make_image_folder(root, n_train=2, n_val=2)
    Image.new("L", (30, 20), 128).save(root / "train/ants/grey.png")
    Image.new("RGBA", (64, 50), (10, 200, 30, 128)).save(root / "val/bees/alpha.png")
    Image.new("P", (8, 8)).save(root / "train/ants/imageNotFound.gif")
    shutil.copyfile(root / "train/bees/bees_0.jpg", root / "train/bees/bees_copy.jpg")
    shutil.copyfile(root / "train/ants/ants_1.jpg", root / "val/ants/ants_dup.jpg")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """The tree, a zip of it inside ``tiny/`` (plus macOS junk) and its manifest."""
    base = tmp_path_factory.mktemp("good")
    tree = build_tree(base / "tree")
    archive = zip_tree(tree, base / "tiny.zip", prefix="tiny")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/tiny/train/._ants_0.jpg", b"resource fork")
        zf.writestr("tiny/.DS_Store", b"finder")
    manifest = write_manifest(tree, base / "tiny.sha256")
    return {"tree": tree, "archive": archive, "manifest": manifest}


def run_prepare(archive: Path, tmp_path: Path, manifest: Path | None = None):
    out_dir = tmp_path / "data" / "tiny"
    report = tmp_path / "metrics" / "data_quality.json"
    summary = prepare_data.prepare(archive, out_dir, report, manifest)
    return out_dir, report, summary


def expect_failure(archive: Path, tmp_path: Path, manifest: Path | None = None) -> str:
    """Run prepare, expecting a PipelineError; check it left nothing behind."""
    with pytest.raises(PipelineError) as excinfo:
        run_prepare(archive, tmp_path, manifest)
    data = tmp_path / "data"
    assert not data.exists() or names_in(data) == []  # no out_dir, no .tiny.extract-*
    assert not (tmp_path / "metrics").exists()
    return str(excinfo.value)


def zip_with(path: Path, tree: Path, extra: dict[str, bytes | zipfile.ZipInfo]) -> Path:
    """Zip ``tree`` under ``tiny/`` and add raw members (name → bytes, or a ZipInfo)."""
    zip_tree(tree, path, prefix="tiny")
    with zipfile.ZipFile(path, "a") as zf:
        for name, data in extra.items():
            zf.writestr(name, data)
    return path


# --- a good archive ---------------------------------------------------------------------

EXPECTED_COUNTS = {
    "train": {"ants": 3, "bees": 3, "total": 6},
    "val": {"ants": 3, "bees": 3, "total": 6},
}


def check_good_result(tree: Path, archive: Path, out_dir: Path, report: Path, summary: dict):
    assert snapshot(out_dir) == snapshot(tree)  # byte-identical, junk left out
    assert json.loads(report.read_text()) == summary
    assert summary["classes"] == ["ants", "bees"]
    assert summary["counts"] == EXPECTED_COUNTS
    assert summary["files_total"] == 13 and summary["images_used"] == 12
    assert summary["skipped"] == [
        {
            "path": "train/ants/imageNotFound.gif",
            "reason": "extension .gif is not loaded by ImageFolder",
        }
    ]
    assert summary["unreadable"] == []
    assert summary["duplicates"] == {
        "within_split": [["train/bees/bees_0.jpg", "train/bees/bees_copy.jpg"]],
        "across_splits": [["train/ants/ants_1.jpg", "val/ants/ants_dup.jpg"]],
    }
    # widths: ten 48, one 30, one 64; heights: ten 40, one 20, one 50
    assert summary["image_size"] == {
        "width": {"min": 30, "median": 48, "mean": 47.8, "max": 64},
        "height": {"min": 20, "median": 40, "mean": 39.2, "max": 50},
    }
    assert summary["modes"] == {"L": 1, "RGB": 10, "RGBA": 1}
    assert summary["tree_sha256"] == tree_sha256(out_dir)
    assert summary["dataset"] == "tiny" and summary["root"] == out_dir.as_posix()
    assert summary["archive"] == {
        "path": archive.as_posix(),
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "bytes": archive.stat().st_size,
    }
    assert names_in(out_dir.parent) == ["tiny"]  # the temporary folder is gone


def test_zip_with_top_level_folder(tmp_path, good):
    out_dir, report, summary = run_prepare(good["archive"], tmp_path, good["manifest"])
    check_good_result(good["tree"], good["archive"], out_dir, report, summary)
    assert summary["manifest"] == good["manifest"].as_posix()


def test_tar_gz_without_top_level_folder(tmp_path, good):
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for split in ("train", "val"):
            tf.add(good["tree"] / split, arcname=split)
    out_dir, report, summary = run_prepare(archive, tmp_path, None)
    check_good_result(good["tree"], archive, out_dir, report, summary)
    assert summary["manifest"] is None


def test_rerun_replaces_previous_output(tmp_path, good):
    out_dir, report, _ = run_prepare(good["archive"], tmp_path, good["manifest"])
    (out_dir / "train/ants/stale.jpg").write_bytes(b"from an older dataset")
    report.write_text("{}")
    run_prepare(good["archive"], tmp_path, good["manifest"])
    assert snapshot(out_dir) == snapshot(good["tree"])
    assert json.loads(report.read_text())["counts"] == EXPECTED_COUNTS
    assert names_in(out_dir.parent) == ["tiny"]  # no .tiny.old-* left


def test_missing_archive(tmp_path):
    message = expect_failure(tmp_path / "nothing.zip", tmp_path)
    assert message.startswith(f"{tmp_path / 'nothing.zip'}: archive not found")


# --- the manifest -----------------------------------------------------------------------


def altered_tree(good: dict[str, Path], tmp_path: Path, change: str) -> Path:
    tree = tmp_path / "altered"
    shutil.copytree(good["tree"], tree)
    if change == "changed":
        (tree / "val/bees/bees_1.jpg").write_bytes((tree / "val/bees/bees_0.jpg").read_bytes())
    elif change == "missing":
        (tree / "train/ants/ants_0.jpg").unlink()
    else:
        shutil.copyfile(tree / "val/ants/ants_0.jpg", tree / "val/ants/extra.jpg")
    return zip_tree(tree, tmp_path / "altered.zip", prefix="tiny")


@pytest.mark.parametrize(
    ("change", "listed"),
    [
        ("changed", "sha256 differs: val/bees/bees_1.jpg"),
        ("missing", "missing: train/ants/ants_0.jpg"),
        ("extra", "not in manifest: val/ants/extra.jpg"),
    ],
)
def test_manifest_mismatch(tmp_path, good, change, listed):
    archive = altered_tree(good, tmp_path, change)
    message = expect_failure(archive, tmp_path, good["manifest"])
    assert f"do not match the manifest {good['manifest']}" in message
    assert f"\n  {listed}\n" in message
    assert message.count("\n  ") == 2  # exactly one file listed, then the advice


def test_manifest_not_found(tmp_path, good):
    message = expect_failure(good["archive"], tmp_path, tmp_path / "none.sha256")
    assert message.startswith(f"{tmp_path / 'none.sha256'}: manifest not found")


def test_manifest_bad_line(tmp_path, good):
    manifest = tmp_path / "bad.sha256"
    manifest.write_text("# comment\n\nabc123  train/ants/ants_0.jpg\n")
    message = expect_failure(good["archive"], tmp_path, manifest)
    assert message.startswith(f"{manifest}:3: expected '<sha256>  <path>'")


# --- unsafe archives --------------------------------------------------------------------


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def test_zip_member_with_absolute_path(tmp_path, good):
    outside = tmp_path / "outside" / "evil.jpg"
    info = zipfile.ZipInfo(outside.as_posix())  # ZipInfo keeps the leading "/"
    archive = tmp_path / "abs.zip"
    zip_tree(good["tree"], archive, prefix="tiny")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(info, b"payload")
    message = expect_failure(archive, tmp_path)
    assert f"\n  {outside.as_posix()}: absolute path" in message
    assert not outside.exists()


def test_zip_member_escaping_with_dotdot(tmp_path, good):
    archive = zip_with(tmp_path / "dotdot.zip", good["tree"], {"tiny/../../evil.jpg": b"x"})
    message = expect_failure(archive, tmp_path)
    assert "\n  tiny/../../evil.jpg: path escapes the target folder ('..')" in message
    assert not (tmp_path / "evil.jpg").exists()


def test_zip_symlink_member(tmp_path, good):
    archive = zip_tree(good["tree"], tmp_path / "link.zip", prefix="tiny")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(symlink_info("tiny/train/ants/link.jpg"), "/etc/passwd")
    message = expect_failure(archive, tmp_path)
    assert "\n  tiny/train/ants/link.jpg: link or special file" in message


def test_tar_symlink_member(tmp_path, good):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(good["tree"], arcname="tiny")
        link = tarfile.TarInfo("tiny/val/ants/link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    message = expect_failure(archive, tmp_path)
    assert "\n  tiny/val/ants/link.jpg: link or special file" in message


def test_tar_member_with_dotdot(tmp_path, good):
    archive = tmp_path / "dotdot.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(good["tree"], arcname="tiny")
        data = b"evil"
        info = tarfile.TarInfo("../evil.jpg")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    message = expect_failure(archive, tmp_path)
    assert "\n  ../evil.jpg: path escapes the target folder ('..')" in message
    assert not (tmp_path / "evil.jpg").exists()


def test_zip_bomb_member(tmp_path, good):
    archive = zip_tree(good["tree"], tmp_path / "bomb.zip", prefix="tiny")
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tiny/train/ants/bomb.jpg", bytes(20 << 20))
        ratio = zf.getinfo("tiny/train/ants/bomb.jpg")
        ratio = ratio.file_size / ratio.compress_size
    assert ratio > MAX_COMPRESSION_RATIO
    message = expect_failure(archive, tmp_path)
    assert f"\n  tiny/train/ants/bomb.jpg: compression ratio {ratio:.0f}:1" in message


def test_every_unsafe_member_is_listed(tmp_path, good):
    archive = zip_tree(good["tree"], tmp_path / "many.zip", prefix="tiny")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../a.jpg", b"a")
        zf.writestr(zipfile.ZipInfo("/b.jpg"), b"b")
        zf.writestr(symlink_info("tiny/c.jpg"), "/etc")
    message = expect_failure(archive, tmp_path)
    assert message.splitlines()[1:4] == [
        "  ../a.jpg: path escapes the target folder ('..')",
        "  /b.jpg: absolute path",
        "  tiny/c.jpg: link or special file",
    ]


# --- corrupt archives -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["truncated-zip", "random-bytes", "truncated-tar-gz"])
def test_corrupt_archive(tmp_path, good, kind):
    if kind == "truncated-zip":
        data = good["archive"].read_bytes()
        archive = tmp_path / "cut.zip"
        archive.write_bytes(data[: len(data) // 2])
    elif kind == "random-bytes":
        archive = tmp_path / "noise.zip"
        archive.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(50_000)))
    else:
        full = tmp_path / "full.tar.gz"
        with tarfile.open(full, "w:gz") as tf:
            tf.add(good["tree"], arcname="tiny")
        archive = tmp_path / "cut.tar.gz"
        archive.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        full.unlink()
    message = expect_failure(archive, tmp_path)
    assert message.startswith(f"{archive}: corrupt or truncated archive (")
    assert "delete it and rerun" in message


def test_zip_with_damaged_member_data(tmp_path, good):
    data = bytearray(good["archive"].read_bytes())
    with zipfile.ZipFile(good["archive"]) as zf:
        info = zf.getinfo("tiny/train/ants/ants_0.jpg")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100 : start + 110] = bytes(10)  # inside the stored bytes: the CRC fails
    archive = tmp_path / "damaged.zip"
    archive.write_bytes(bytes(data))
    message = expect_failure(archive, tmp_path)
    assert message.startswith(f"{archive}: corrupt or truncated archive (")
    assert "tiny/train/ants/ants_0.jpg" in message


# --- layout -----------------------------------------------------------------------------


def layout_archive(tmp_path: Path, change: str) -> Path:
    tree = tmp_path / "layout"
    make_image_folder(tree, n_train=1, n_val=1)
    if change == "no-val":
        shutil.rmtree(tree / "val")
    elif change == "train-only-class":
        make_image(tree / "train/wasps/w.jpg", (9, 9, 9), (16, 16), 5)
    elif change == "no-images":
        (tree / "val/bees/bees_0.jpg").unlink()
        (tree / "val/bees/notes.txt").write_text("no pictures here")
    elif change == "one-class":
        shutil.rmtree(tree / "train/bees")
        shutil.rmtree(tree / "val/bees")
    archive = zip_tree(tree, tmp_path / "layout.zip", prefix="tiny")
    if change == "empty-class":
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr("tiny/train/wasps/", b"")
            zf.writestr("tiny/val/wasps/", b"")
    return archive


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("no-val", "tiny/val: missing folder"),
        ("train-only-class", "tiny/train/wasps: class folder has no counterpart in val/"),
        ("no-images", "tiny/val/bees: no images (.jpg"),
        ("empty-class", "tiny/train/wasps: no images (.jpg"),
        ("one-class", "tiny: found 1 class folder(s); need at least 2"),
    ],
)
def test_unusable_layout(tmp_path, change, problem):
    archive = layout_archive(tmp_path, change)
    message = expect_failure(archive, tmp_path)
    assert message.startswith("dataset layout is not usable:")
    # Folders are named inside the archive, not in the temporary folder (deleted by now).
    assert f"\n  {archive}/{problem}" in message
    assert ".extract-" not in message


def test_no_dataset_folder_at_all(tmp_path, good):
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/readme.txt", b"a")
        zf.writestr("b/readme.txt", b"b")
    message = expect_failure(archive, tmp_path)
    assert "no train/ and val/ folders" in message and "(found: a, b)" in message


# --- images that do not decode ----------------------------------------------------------


def test_unreadable_images_are_all_listed(tmp_path, good):
    tree = tmp_path / "bad"
    shutil.copytree(good["tree"], tree)
    make_image(tree / "train/bees/big.jpg", (200, 100, 0), (96, 96), 11)
    data = (tree / "train/bees/big.jpg").read_bytes()
    (tree / "train/bees/big.jpg").write_bytes(data[: len(data) // 2])
    (tree / "val/ants/text.jpg").write_text("this is not a JPEG\n")
    archive = zip_tree(tree, tmp_path / "bad.zip", prefix="tiny")
    message = expect_failure(archive, tmp_path)
    assert message.startswith(f"2 image(s) in {archive} cannot be decoded:")
    listed = message.splitlines()[1:3]
    assert listed[0].startswith("  train/bees/big.jpg: image file is truncated")
    assert listed[1].startswith("  val/ants/text.jpg: cannot identify image file")


# --- earlier output survives a failed run -----------------------------------------------


@pytest.mark.parametrize("failure", ["manifest", "corrupt", "unsafe"])
def test_failed_run_keeps_previous_output(tmp_path, good, failure):
    out_dir, report, _ = run_prepare(good["archive"], tmp_path, good["manifest"])
    before_tree, before_report = snapshot(out_dir), report.read_bytes()
    if failure == "manifest":
        bad = altered_tree(good, tmp_path, "extra")
    elif failure == "corrupt":
        bad = tmp_path / "cut.zip"
        bad.write_bytes(good["archive"].read_bytes()[:5000])
    else:
        bad = zip_with(tmp_path / "dotdot.zip", good["tree"], {"tiny/../x.jpg": b"x"})
    with pytest.raises(PipelineError):
        run_prepare(bad, tmp_path, good["manifest"])
    assert snapshot(out_dir) == before_tree
    assert report.read_bytes() == before_report
    assert names_in(out_dir.parent) == ["tiny"]
    assert names_in(report.parent) == ["data_quality.json"]


# --- the CLI ----------------------------------------------------------------------------


def test_cli_exits_1_with_one_error_line(tmp_path):
    archive = tmp_path / "noise.zip"
    archive.write_bytes(b"PK\x03\x04 but not really a zip" * 100)
    out_dir = tmp_path / "data" / "tiny"
    report = tmp_path / "q.json"
    argv = ["--archive", str(archive), "--out-dir", str(out_dir), "--report", str(report)]
    error = main_error_line("prepare_data.py", *argv, "--manifest", "none")
    assert f"{archive}: corrupt or truncated archive" in error
    assert not out_dir.exists() and not report.exists()
