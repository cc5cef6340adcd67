"""Which ImageNet weights file belongs to ``model.arch``, and how to check it.

``model.weights_url: auto`` is the URL of torchvision's IMAGENET1K_V1 weights for the
architecture (its weights enum knows it); ``model.weights_sha256: auto`` is the full
sha256 of that file where this project has recorded it (resnet18), otherwise the hash
prefix torchvision puts in the file name (``resnet50-0676ba61.pth``), which is what
``torch.hub`` checks when it downloads the same file. A prefix is a weaker check than the
full hash; set ``model.weights_sha256`` to the full hash to have that.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from tlpipe.errors import PipelineError

AUTO = "auto"
# Full sha256 of torchvision weight files, by file name (a mirror keeps the name),
# checked by this project.
KNOWN_SHA256 = {
    "resnet18-f37072fd.pth": "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
}
# torch.hub's rule: the hex digits after the last '-' of the file name.
FILE_NAME_HASH = re.compile(r"-([a-f0-9]{8,})\.")


def imagenet_url(arch: str) -> str:
    """URL of torchvision's IMAGENET1K_V1 weights for ``arch``."""
    # imported here: downloading the dataset (download.py) needs no torch, whose import
    # takes seconds
    import torchvision

    try:
        return torchvision.models.get_model_weights(arch).IMAGENET1K_V1.url
    except (ValueError, AttributeError) as err:
        raise PipelineError(
            f"model.arch={arch!r}: torchvision has no IMAGENET1K_V1 weights for it ({err}); "
            "set model.weights_url, or model.weights to none or a local file"
        ) from None


def resolve_url(url: str, arch: str) -> str:
    """``model.weights_url`` with ``auto`` replaced by torchvision's URL for ``arch``."""
    return imagenet_url(arch) if url == AUTO else url


def expected_sha256(sha256: str | None, url: str, arch: str) -> str | None:
    """The hash (full, or a prefix) a weights file must have; None: no check.

    ``auto`` gives the recorded full sha256 of torchvision's file, else the prefix in
    its file name; a URL of another name has no prefix, so then the hash must be set.
    """
    if sha256 != AUTO:
        return sha256
    url = resolve_url(url, arch)
    name = PurePosixPath(urlsplit(url).path).name
    if name in KNOWN_SHA256:
        return KNOWN_SHA256[name]
    match = FILE_NAME_HASH.search(name)
    if match is None:
        raise PipelineError(
            f"model.weights_sha256=auto: {url} has no hash in its file name; set "
            "model.weights_sha256 to the file's sha256 (or null to skip the check)"
        )
    return match.group(1)
