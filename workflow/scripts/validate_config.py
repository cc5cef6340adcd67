#!/usr/bin/env python
"""Check config file(s) against the schema before any work: DVC's first stage.

    python workflow/scripts/validate_config.py config/config.yaml --out data/config.valid

Snakemake validates the config while it parses the workflow; under DVC this stage does
the same check, with the same one-line-per-problem message, and every other stage comes
after it (the downloads depend on its output), so a typo or a bad value stops
``dvc repro`` before anything runs, instead of surfacing at the training stage as
argparse's "unrecognized arguments". The values are read as written in the file (no
reading of words as in ``snakemake --config``): DVC passes them on as they are.

The output says only that the check passed, with the same bytes every time, so a passing
check never makes another stage rerun.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tlpipe.config import SCHEMA_PATH, load_config_files
from tlpipe.fileio import atomic_open
from tlpipe.runner import run_cli

log = logging.getLogger("validate_config")


def main(args: argparse.Namespace) -> None:
    load_config_files(args.config)  # PipelineError: "invalid config:" and one line per problem
    with atomic_open(args.out, "w", encoding="utf-8") as handle:
        handle.write(f"valid against {SCHEMA_PATH.relative_to(SCHEMA_PATH.parents[2])}\n")
    log.info("%s: valid", ", ".join(map(str, args.config)))


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", type=Path, nargs="+", help="config file(s), merged in order")
    parser.add_argument("--out", type=Path, required=True, help="file written when valid")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
