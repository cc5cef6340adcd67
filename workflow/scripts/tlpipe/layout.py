"""The ImageFolder layout of a dataset: its splits, class folders, images and hashes.

``<root>/{train,val}/<class>/<image>``, plus an optional ``test/`` with the same class
folders. Class names are the sorted folder names; files whose extension ImageFolder does
not load are skipped, exactly as ImageFolder does. No torch here: data preparation checks
the layout with these functions, and the loaders (:mod:`tlpipe.dataset`) use them too, so
an edit to the loaders reruns training, not the data preparation.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from tqdm import tqdm

from tlpipe.errors import PipelineError
from tlpipe.fileio import sha256_file

SPLITS = ("train", "val")
TEST_SPLIT = "test"  # optional; same class folders as train/ and val/
# torchvision.datasets.folder.IMG_EXTENSIONS, the files ImageFolder loads (a test checks
# that the two agree), spelled out so that checking a layout needs no torch import.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def is_image_file(path: str | Path) -> bool:
    """True when ImageFolder would load this file (by extension, case-insensitive)."""
    return str(path).lower().endswith(IMG_EXTENSIONS)


def class_names(split_dir: Path) -> list[str]:
    """Sorted class folder names of one split (hidden folders ignored)."""
    return sorted(
        e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith(".")
    )


def splits_of(root: str | Path) -> tuple[str, ...]:
    """The splits of a dataset: train and val, plus test when the folder exists."""
    has_test = (Path(root) / TEST_SPLIT).is_dir()
    return (*SPLITS, TEST_SPLIT) if has_test else SPLITS


def evaluation_split(root: str | Path) -> str:
    """The split that evaluation reports: test when the dataset has one, else val."""
    return TEST_SPLIT if TEST_SPLIT in splits_of(root) else "val"


def check_layout(root: str | Path) -> list[str]:
    """Check ``root`` is a usable ImageFolder tree; return the class names.

    train/ and val/ (and test/, when present) must hold the same two or more class
    folders, and every class folder must hold at least one loadable image.
    """
    root = Path(root)
    problems: list[str] = []
    classes_per_split: dict[str, list[str]] = {}
    for split in splits_of(root):
        split_dir = root / split
        if not split_dir.is_dir():
            problems.append(
                f"{split_dir}: missing folder (expected {root}/{split}/<class>/<images>)"
            )
            continue
        classes_per_split[split] = class_names(split_dir)
    if all(split in classes_per_split for split in SPLITS):
        every = set().union(*map(set, classes_per_split.values()))
        for split, names in classes_per_split.items():
            for name in names:
                lacking = [s for s, other in classes_per_split.items() if name not in other]
                if lacking:
                    problems.append(
                        f"{root / split / name}: class folder has no counterpart in "
                        + ", ".join(f"{s}/" for s in lacking)
                    )
        if len(every) < 2:
            problems.append(f"{root}: found {len(every)} class folder(s); need at least 2")
        for split, names in classes_per_split.items():
            for name in names:
                folder = root / split / name
                if not any(is_image_file(p) for p in folder.rglob("*") if p.is_file()):
                    problems.append(f"{folder}: no images ({', '.join(IMG_EXTENSIONS)})")
    if problems:
        raise PipelineError("dataset layout is not usable:\n  " + "\n  ".join(problems))
    return classes_per_split["train"]


def manifest_sha256(hashes: Mapping[str, str]) -> str:
    """sha256 over sorted ``<sha256>  <relative path>`` lines: the hash of the manifest
    file ``sha256sum`` would write for a tree whose files have these hashes."""
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def file_hashes(root: str | Path, *, hidden: bool = True) -> dict[str, str]:
    """sha256 of every file under ``root``, keyed by POSIX relative path, in path order.

    ``hidden=False`` leaves out files whose name starts with a dot (Snakemake's
    ``.snakemake_timestamp`` in a directory output); files in hidden folders stay in.
    Data preparation hashes everything, so that the manifest check sees every file.
    """
    root = Path(root)
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and (hidden or not p.name.startswith("."))
    )
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in tqdm(files, desc="sha256", unit="file", disable=None)
    }


def tree_sha256(root: str | Path) -> str:
    """:func:`manifest_sha256` of a directory tree (hidden files such as Snakemake's
    ``.snakemake_timestamp`` left out)."""
    return manifest_sha256(file_hashes(root, hidden=False))
