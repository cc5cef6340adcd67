"""Image cache: the same tensors, and the same augmentation draws, as decoding each time."""

from __future__ import annotations

import pytest
import torch

from tlpipe.dataset import (
    CachedImageDataset,
    ImageListDataset,
    decode_all,
    decode_image,
    eval_geometry,
    eval_transform,
    list_samples,
    load_rgb,
    make_loader,
    to_network_input,
    train_transform,
)


@pytest.fixture(scope="module")
def samples(tiny_dataset):
    return list_samples(tiny_dataset["tree"] / "train", ["ants", "bees"])


def items(dataset, seed):
    """Every item of a dataset, drawn after seeding torch's global RNG."""
    torch.manual_seed(seed)
    return [dataset[i] for i in range(len(dataset))]


def test_decode_image_is_what_to_image_makes(samples):
    from torchvision.transforms import v2

    path = samples[0][0]
    image = decode_image(path)
    assert image.dtype == torch.uint8 and image.shape == (3, 40, 48)
    assert torch.equal(image, v2.ToImage()(load_rgb(path)))


def test_threaded_decoding_keeps_the_order(samples):
    paths = [path for path, _ in samples]
    one, many = decode_all(paths, threads=1), decode_all(paths, threads=3)
    assert all(torch.equal(a, b) for a, b in zip(one, many, strict=True))


def test_cached_training_images_equal_decoding_each_time(samples):
    """Same seed: the same crops and flips, bit for bit (the augmentation is unchanged)."""
    transform = train_transform(32)
    plain = ImageListDataset(samples, transform)
    cached = CachedImageDataset(samples, transform)
    for seed in (0, 1):
        for (a, label_a), (b, label_b) in zip(items(plain, seed), items(cached, seed), strict=True):
            assert label_a == label_b
            assert a.dtype == b.dtype == torch.float32 and torch.equal(a, b)
    # and the draws do differ between epochs: the cache does not freeze the augmentation
    assert not torch.equal(items(cached, 0)[0][0], items(cached, 1)[0][0])


def test_cached_validation_images_are_cropped_once(samples):
    plain = ImageListDataset(samples, eval_transform(32, 36))
    cached = CachedImageDataset(samples, to_network_input(), preprocess=eval_geometry(32, 36))
    assert cached.nbytes == len(samples) * 3 * 32 * 32  # uint8 crops
    for (a, _), (b, _) in zip(items(plain, 0), items(cached, 0), strict=True):
        assert torch.equal(a, b)


def test_uint8_cache_size(samples):
    cached = CachedImageDataset(samples, train_transform(32))
    assert cached.nbytes == len(samples) * 3 * 40 * 48  # one byte per pixel and channel


def test_cached_loader_gives_the_same_batches(samples):
    """In-process loading (num_workers=0), as train.py runs it: same order, same images."""
    transform = train_transform(32)
    batches = []
    for dataset in (ImageListDataset(samples, transform), CachedImageDataset(samples, transform)):
        torch.manual_seed(5)
        loader = make_loader(dataset, 3, shuffle=True, num_workers=0, seed=5)
        batches.append(list(loader))
    for (xa, ya), (xb, yb) in zip(*batches, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_the_layout_checks_load_the_files_imagefolder_loads():
    """tlpipe.layout spells out torchvision's extensions (to check a layout without torch)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from tlpipe.layout import IMG_EXTENSIONS as ours

    assert ours == IMG_EXTENSIONS
