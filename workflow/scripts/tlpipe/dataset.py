"""ImageFolder-style datasets: transforms and data loaders (layout checks: tlpipe.layout).

The layout is torchvision's ImageFolder: ``<root>/{train,val}/<class>/<image>``, plus
an optional ``test/`` with the same class folders (held out: evaluation uses it when
present, while the checkpoint is still chosen on ``val/``). Class
names are the sorted folder names, so the class index order is the same everywhere
(training, evaluation, reports). Files whose extension ImageFolder does not load
(e.g. ``imageNotFound.gif`` in hymenoptera) are skipped, exactly as ImageFolder does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from tlpipe.errors import PipelineError

# Layout checks and the dataset's digest (tlpipe.layout, no torch: data preparation runs
# them, so an edit to the loaders here does not redo it), re-exported for the loaders' users.
from tlpipe.layout import IMG_EXTENSIONS as IMG_EXTENSIONS
from tlpipe.layout import SPLITS as SPLITS
from tlpipe.layout import TEST_SPLIT as TEST_SPLIT
from tlpipe.layout import check_layout as check_layout
from tlpipe.layout import class_names as class_names
from tlpipe.layout import evaluation_split as evaluation_split
from tlpipe.layout import is_image_file
from tlpipe.layout import splits_of as splits_of

log = logging.getLogger(__name__)
# ImageNet channel statistics: the pretrained weights expect inputs normalised this way.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Sample = tuple[str, int]


def list_samples(split_dir: str | Path, classes: Sequence[str]) -> list[Sample]:
    """(path, class index) for every loadable image of a split, in a stable order."""
    samples = []
    for index, name in enumerate(classes):
        folder = Path(split_dir) / name
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames.sort()
            samples += [
                (os.path.join(dirpath, f), index) for f in sorted(filenames) if is_image_file(f)
            ]
    return samples


def train_transform(crop_size: int) -> v2.Compose:
    """The tutorial's training augmentation: RandomResizedCrop + horizontal flip."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.RandomResizedCrop(crop_size, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


def eval_transform(crop_size: int, resize_size: int) -> v2.Compose:
    """The tutorial's validation transform: Resize(shorter side) + CenterCrop."""
    return v2.Compose([eval_geometry(crop_size, resize_size), to_network_input()])


def eval_geometry(crop_size: int, resize_size: int) -> v2.Compose:
    """The uint8 part of :func:`eval_transform`: Resize(shorter side) + CenterCrop."""
    return v2.Compose(
        [v2.ToImage(), v2.Resize(resize_size, antialias=True), v2.CenterCrop(crop_size)]
    )


def to_network_input() -> v2.Compose:
    """uint8 image to the float32, ImageNet-normalised tensor the network takes."""
    return v2.Compose(
        [v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )


def load_rgb(path: str) -> Image.Image:
    """Decode an image as RGB (greyscale, palette and RGBA images are converted)."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as err:
        raise PipelineError(
            f"{path}: cannot decode image ({err}); remove or replace the file"
        ) from None


class ImageListDataset(Dataset):
    """Images given as (path, label) pairs, decoded to RGB and transformed."""

    def __init__(self, samples: Sequence[Sample], transform: Callable):
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return self.transform(load_rgb(path)), label


def decode_image(path: str) -> torch.Tensor:
    """An image as a uint8 RGB tensor (C, H, W): exactly what ``v2.ToImage`` makes of it."""
    return v2.functional.pil_to_tensor(load_rgb(path))


def decode_all(
    paths: Sequence[str], threads: int = 1, then: Callable | None = None
) -> list[torch.Tensor]:
    """Decode many images, in order, applying ``then`` to each as it arrives.

    PIL releases the GIL while decoding, so ``threads`` decoder threads help; ``then``
    runs in the calling thread, so only a few decoded images are held at a time.
    """
    then = then or (lambda image: image)
    if threads <= 1:
        return [then(decode_image(p)) for p in paths]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return [then(image) for image in pool.map(decode_image, paths)]


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch ops on one thread: per-image transforms are too small to split, and
    splitting them costs more (thread hand-offs) than it saves, many times over on a
    busy machine. (DataLoader workers run single-threaded already.)"""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class CachedImageDataset(Dataset):
    """Like :class:`ImageListDataset`, but every image is decoded once, up front.

    Images are kept as uint8 (C, H, W) tensors (a quarter of float32's memory) and
    ``transform`` runs on them on every access. The project's transforms start with
    ``v2.ToImage()``, which turns a PIL image into this very tensor, so a random
    transform draws the same parameters from the same RNG and returns the same tensor
    as decoding the file each time: only the decoding is saved.

    ``preprocess``, for a deterministic first part of the transform (validation's
    resize and centre crop), is applied once, before caching:
    ``CachedImageDataset(s, b, preprocess=a)`` gives what
    ``ImageListDataset(s, v2.Compose([a, b]))`` gives.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable,
        *,
        preprocess: Callable | None = None,
        threads: int = 1,
    ):
        self.samples = list(samples)
        self.transform = transform
        # clone: a centre crop is a view, which would keep the whole resized image alive
        then = (
            (lambda image: preprocess(image).as_subclass(torch.Tensor).clone())
            if preprocess
            else None
        )
        with single_threaded():
            self.images = decode_all([path for path, _ in self.samples], threads, then)
        log.debug("cached %d images (%.0f MB)", len(self.images), self.nbytes / 2**20)

    @property
    def nbytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return sum(image.untyped_storage().nbytes() for image in self.images)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with single_threaded():
            return self.transform(self.images[index]), self.samples[index][1]


def seed_worker(worker_id: int) -> None:
    """Seed numpy and ``random`` in a loader worker from its torch seed.

    torch seeds each worker from the loader's generator; numpy and ``random`` would
    otherwise be copies of the parent's state in every worker.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    num_workers: int,
    seed: int,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds depend only on ``seed``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        worker_init_fn=seed_worker,
        generator=generator,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
