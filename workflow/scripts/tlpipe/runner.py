"""How every script runs from its command line: logging to stderr, ``main(args)``, and a
:class:`~tlpipe.errors.PipelineError` turned into one ERROR line and exit status 1 (no
traceback); plus :func:`optional_arg`, the one spelling of an unset value on a command
line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from tlpipe.errors import PipelineError


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (Snakemake's ``log:`` and DVC capture it) with timestamps."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def run_cli(main: Callable[[Any], None], args: Any) -> None:
    """Run ``main(args)`` and turn a :class:`PipelineError` into one clear line + exit 1."""
    setup_logging(getattr(args, "verbose", False))
    try:
        main(args)
    except PipelineError as err:
        logging.getLogger("tlpipe").error("%s", err)
        sys.exit(1)


def optional_arg(value: str) -> str | None:
    """A command-line value that may be unset: ``none``/``null``/empty mean None.

    (DVC renders a YAML null as ``None``, Snakemake rules the same way.)
    """
    return None if value.lower() in ("", "none", "null") else value
