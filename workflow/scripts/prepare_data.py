#!/usr/bin/env python
"""Extract the dataset archive safely, verify every file, and report on data quality.

    python workflow/scripts/prepare_data.py --archive data/raw/hymenoptera_data.archive \\
        --manifest config/manifests/hymenoptera_data.sha256 \\
        --out-dir data/hymenoptera_data --report metrics/data_quality.json

The archive is extracted (safely: :mod:`tlpipe.archive`) into a temporary folder next to
``--out-dir``; only when the layout, the manifest and every image check out is it moved
into place, so a failed run leaves no half-extracted dataset behind and the previous one
untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from PIL import Image
from tqdm import tqdm

from tlpipe import provenance
from tlpipe.archive import extract, listing
from tlpipe.errors import PipelineError
from tlpipe.fileio import sha256_file, write_json
from tlpipe.layout import (
    SPLITS,
    check_layout,
    file_hashes,
    is_image_file,
    manifest_sha256,
    splits_of,
)
from tlpipe.runner import optional_arg, run_cli

log = logging.getLogger("prepare_data")


def find_dataset_root(extracted: Path) -> Path:
    """The folder holding ``train/`` and ``val/``: the top level or its only subfolder.

    A folder with just one of the two is returned too, so the layout check can name
    the missing one.
    """
    if any((extracted / s).is_dir() for s in SPLITS):
        return extracted
    subdirs = [p for p in extracted.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and any((subdirs[0] / s).is_dir() for s in SPLITS):
        return subdirs[0]
    found = sorted(p.relative_to(extracted).as_posix() for p in extracted.glob("*/"))
    raise PipelineError(
        f"archive has no train/ and val/ folders at its top level or in one folder "
        f"(found: {', '.join(found) or 'nothing'}); expected <name>/{{train,val}}/<class>/<images>"
    )


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style manifest: ``<hash>  <relative path>`` per line."""
    entries = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise PipelineError(
            f"{path}: manifest not found; fix data.manifest or set it to null"
        ) from None
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise PipelineError(f"{path}:{number}: expected '<sha256>  <path>', got {line!r}")
        entries[name.lstrip("*")] = digest.lower()
    return entries


def check_manifest(hashes: dict[str, str], manifest: dict[str, str], manifest_path: Path) -> None:
    """Every file listed, none missing, every hash equal; otherwise list the differences."""
    missing = sorted(set(manifest) - set(hashes))
    extra = sorted(set(hashes) - set(manifest))
    changed = sorted(n for n in set(manifest) & set(hashes) if manifest[n] != hashes[n])
    problems = (
        [f"missing: {n}" for n in missing]
        + [f"not in manifest: {n}" for n in extra]
        + [f"sha256 differs: {n}" for n in changed]
    )
    if problems:
        raise PipelineError(
            f"extracted files do not match the manifest {manifest_path} "
            f"({len(missing)} missing, {len(extra)} extra, {len(changed)} changed):"
            + listing(problems)
            + "\n  the archive is not the expected dataset; fix data.url, or for another "
            "dataset set data.manifest to its manifest (or null)"
        )


def inspect_images(root: Path, names: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Decode every image fully; return per-file (width, height, mode) and the failures."""
    info: dict[str, dict[str, Any]] = {}
    unreadable = []
    for name in tqdm(names, desc="decode", unit="img", disable=None):
        try:
            with Image.open(root / name) as image:
                image.load()  # verify() misses truncated pixel data; a full decode does not
                info[name] = {"width": image.width, "height": image.height, "mode": image.mode}
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            unreadable.append(f"{name}: {err}")
    return info, unreadable


def find_duplicates(hashes: dict[str, str]) -> dict[str, list[list[str]]]:
    """Groups of byte-identical files, within one split and across splits."""
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for name, digest in sorted(hashes.items()):
        groups[digest].append(name)
    within, across = [], []
    for names in groups.values():
        if len(names) > 1:
            splits = {n.split("/", 1)[0] for n in names}
            (across if len(splits) > 1 else within).append(names)
    return {"within_split": within, "across_splits": across}


def _stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "mean": 0, "max": 0}
    return {
        "min": min(values),
        "median": statistics.median(values),
        "mean": round(statistics.fmean(values), 1),
        "max": max(values),
    }


def quality_report(
    root: Path, classes: list[str], hashes: dict[str, str], images: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The data-quality summary written to ``metrics/data_quality.json``."""
    counts: dict[str, dict[str, int]] = {}
    for split in splits_of(root):
        per_class = Counter(n.split("/")[1] for n in images if n.startswith(split + "/"))
        counts[split] = {c: per_class.get(c, 0) for c in classes}
        counts[split]["total"] = sum(per_class.values())
    skipped = [
        {
            "path": n,
            "reason": f"extension {Path(n).suffix or '(none)'} is not loaded by ImageFolder",
        }
        for n in sorted(hashes)
        if not is_image_file(n)
    ]
    return {
        "classes": classes,
        "counts": counts,
        "files_total": len(hashes),
        "images_used": len(images),
        "skipped": skipped,
        "unreadable": [],
        "image_size": {
            "width": _stats([i["width"] for i in images.values()]),
            "height": _stats([i["height"] for i in images.values()]),
        },
        "modes": dict(sorted(Counter(i["mode"] for i in images.values()).items())),
        "duplicates": find_duplicates(hashes),
        "tree_sha256": manifest_sha256(hashes),
    }


def replace_dir(src: Path, dest: Path) -> None:
    """Move ``src`` to ``dest``, replacing an older ``dest`` only at the very end."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(src, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def prepare(archive: Path, out_dir: Path, report: Path, manifest: Path | None) -> dict[str, Any]:
    """Extract, verify and report; ``out_dir`` appears only when everything checks out."""
    if not archive.is_file():
        raise PipelineError(f"{archive}: archive not found; run the download step first")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.extract-", dir=out_dir.parent))
    try:
        count = extract(archive, tmp)
        log.info("extracted %d files from %s", count, archive)
        root = find_dataset_root(tmp)
        try:
            classes = check_layout(root)
        except PipelineError as err:
            # Name the folders as they are in the archive: ``tmp`` is deleted on the way out.
            raise PipelineError(str(err).replace(str(tmp), str(archive))) from None
        hashes = file_hashes(root)
        if manifest is not None:
            check_manifest(hashes, read_manifest(manifest), manifest)
            log.info("all %d files match %s", len(hashes), manifest)
        image_names = [n for n in sorted(hashes) if is_image_file(n)]
        images, unreadable = inspect_images(root, image_names)
        if unreadable:
            raise PipelineError(
                f"{len(unreadable)} image(s) in {archive} cannot be decoded:"
                + listing(unreadable)
                + "\n  remove or replace them in the archive"
            )
        summary = quality_report(root, classes, hashes, images)
        archive_sha = sha256_file(archive)
        summary.update(
            dataset=out_dir.name,
            root=out_dir.as_posix(),
            archive={
                "path": archive.as_posix(),
                "sha256": archive_sha,
                "bytes": archive.stat().st_size,
            },
            manifest=manifest.as_posix() if manifest else None,
            provenance=provenance.collect(
                archive_sha256=archive_sha, dataset_sha256=summary["tree_sha256"]
            ),
        )
        replace_dir(root, out_dir)
        write_json(report, summary)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    counts = summary["counts"]
    log.info(
        "%s: classes %s; train %d, val %d images; %d skipped; %d duplicate group(s)",
        out_dir,
        classes,
        counts["train"]["total"],
        counts["val"]["total"],
        len(summary["skipped"]),
        sum(len(g) for g in summary["duplicates"].values()),
    )
    return summary


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archive", type=Path, required=True, help="dataset archive (.zip/.tar*)")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the tree goes")
    parser.add_argument("--report", type=Path, required=True, help="data-quality JSON to write")
    parser.add_argument(
        "--manifest",
        type=optional_arg,
        default=None,
        help="sha256sum-style manifest of the extracted files (none: no check)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    manifest = Path(args.manifest) if args.manifest else None
    prepare(args.archive, args.out_dir, args.report, manifest)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
