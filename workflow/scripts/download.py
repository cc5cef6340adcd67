#!/usr/bin/env python
"""Download (or copy) a file, resume it if interrupted, and verify its sha256.

Used for the dataset archive and the starting weights of training:

    python workflow/scripts/download.py --url URL --sha256 HASH --out data/raw/x.archive
    python workflow/scripts/download.py --url URL --sha256 HASH --weights none \
        --config-prefix model.weights_ --out data/weights/resnet18.pth

With ``--weights`` (the config's model.weights) the output is always the file training
starts from, so both runners have one fixed file to depend on: the download of ``--url``
for IMAGENET1K_V1, a verified copy of the local file for a path, and an empty
placeholder for none (random initialisation: training does not read it).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tlpipe.fetch import fetch
from tlpipe.fileio import atomic_path
from tlpipe.runner import optional_arg as optional_hash
from tlpipe.runner import run_cli
from tlpipe.weights import AUTO, expected_sha256, resolve_url

log = logging.getLogger("download")


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, add_help=add_help)
    parser.add_argument("--url", required=True, help="http(s) URL, file:// URL or local path")
    parser.add_argument("--out", required=True, help="destination file")
    parser.add_argument(
        "--sha256", type=optional_hash, default=None, help="expected sha256 (none: no check)"
    )
    parser.add_argument(
        "--config-prefix",
        default="data.",
        help="prefix of the config keys <prefix>url/<prefix>sha256 named in error messages "
        "(default: data.)",
    )
    parser.add_argument(
        "--weights",
        default="IMAGENET1K_V1",
        help="model.weights: IMAGENET1K_V1 fetches --url; none writes an empty placeholder; "
        "a path fetches (copies and verifies) that file instead of --url "
        "(default: IMAGENET1K_V1)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        help="model.arch: resolves --url auto and --sha256 auto to torchvision's weights "
        "file for it and that file's hash",
    )
    parser.add_argument("--retries", type=int, default=3, help="retries per request (default: 3)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    if args.weights.lower() == "none":
        with atomic_path(args.out) as tmp:
            Path(tmp).write_bytes(b"")
        log.info("model.weights is none (random initialisation): wrote a placeholder %s", args.out)
        return
    if args.weights == "IMAGENET1K_V1":
        url, sha256 = args.url, args.sha256
        if args.arch:  # the pretrained weights: `auto` means torchvision's file for arch
            url = resolve_url(args.url, args.arch)
            sha256 = expected_sha256(args.sha256, args.url, args.arch)
    else:  # a local weights file, copied and checked
        url, sha256 = args.weights, None if args.sha256 == AUTO else args.sha256
    fetch(url, args.out, sha256, setting=args.config_prefix, retries=args.retries)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
