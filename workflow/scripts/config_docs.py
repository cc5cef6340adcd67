#!/usr/bin/env python
"""Regenerate the config-key table in README.md from workflow/schemas/config.schema.yaml.

python workflow/scripts/config_docs.py README.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tlpipe.config import markdown_table
from tlpipe.fileio import PipelineError, atomic_open, run_cli

START, END = "<!-- config-table:start -->\n", "<!-- config-table:end -->"


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, add_help=add_help)
    parser.add_argument("readme", type=Path, help="Markdown file with the table markers")
    return parser


def main(args: argparse.Namespace) -> None:
    text = args.readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise PipelineError(f"{args.readme}: add the markers {START.strip()} and {END}")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    with atomic_open(args.readme, "w", encoding="utf-8") as handle:
        handle.write(head + START + markdown_table() + END + tail)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
