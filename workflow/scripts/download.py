#!/usr/bin/env python
"""Download (or copy) a file, resume it if interrupted, and verify its sha256.

Used for the dataset archive and the pretrained weights:

    python workflow/scripts/download.py --url URL --sha256 HASH --out data/raw/x.zip
"""

from __future__ import annotations

import argparse

from tlpipe.fetch import fetch
from tlpipe.fileio import optional_arg as optional_hash
from tlpipe.fileio import run_cli


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
    parser.add_argument("--retries", type=int, default=3, help="retries per request (default: 3)")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    fetch(args.url, args.out, args.sha256, setting=args.config_prefix, retries=args.retries)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
