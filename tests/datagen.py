"""Small generated datasets, archives and weights for fast tests."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

# Each class gets a distinct dominant colour, so even one epoch learns something.
CLASS_COLORS = [(200, 60, 40), (40, 90, 200), (60, 180, 70), (180, 170, 40)]


def make_image(path: Path, color: tuple[int, int, int], size: tuple[int, int], seed: int) -> None:
    """A noisy image of one dominant colour, saved by extension (JPEG or PNG)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-40, 40, size=(size[1], size[0], 3))
    pixels = np.clip(np.array(color)[None, None, :] + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def make_image_folder(
    root: Path,
    classes: tuple[str, ...] = ("ants", "bees"),
    n_train: int = 4,
    n_val: int = 3,
    size: tuple[int, int] = (48, 40),
) -> Path:
    """``root/{train,val}/<class>/*.jpg`` with a few images per class."""
    seed = 0
    for split, count in (("train", n_train), ("val", n_val)):
        for index, name in enumerate(classes):
            for i in range(count):
                seed += 1
                ext = "png" if i % 3 == 2 else "jpg"
                make_image(
                    root / split / name / f"{name}_{i}.{ext}", CLASS_COLORS[index], size, seed
                )
    return root


def zip_tree(tree: Path, archive: Path, prefix: str | None = None) -> Path:
    """Zip the files under ``tree``, optionally inside a top-level folder ``prefix``."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                name = path.relative_to(tree).as_posix()
                zf.write(path, f"{prefix}/{name}" if prefix else name)
    return archive


def write_manifest(tree: Path, manifest: Path) -> Path:
    """A sha256sum-style manifest of every file under ``tree``."""
    lines = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(tree).as_posix()}\n"
        for p in sorted(tree.rglob("*"))
        if p.is_file()
    ]
    manifest.write_text("".join(lines))
    return manifest


def make_weights(path: Path, arch: str = "resnet18", seed: int = 0) -> Path:
    """A state dict of ``arch`` with random (seeded) weights: stands in for ImageNet's."""
    torch.manual_seed(seed)
    torch.save(torchvision.models.get_model(arch, weights=None).state_dict(), path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
