#!/usr/bin/env python
"""Regenerate config/README.md's generated tables: the config keys (from
workflow/schemas/config.schema.yaml), the strategies (tlpipe/strategies.py) and the
architectures (tlpipe/architectures.py).

python workflow/scripts/config_docs.py config/README.md      # what `make docs` runs
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from tlpipe.architectures import FAMILIES
from tlpipe.config import markdown_table
from tlpipe.errors import PipelineError
from tlpipe.fileio import atomic_open
from tlpipe.runner import run_cli
from tlpipe.strategies import REGISTRY


def strategies_table() -> str:
    """One row per strategy of the registry."""
    rows = [
        "| strategy | what trains | frozen part | fast path | backbone lr "
        "| job resources (time, memory) |",
        "|---|---|---|---|---|---|",
    ]
    frozen = {"everything": "nothing",
              "last_stage": "every stage before the last (eval mode, no gradient)",
              "head": "the whole backbone (eval mode, no gradient)"}  # fmt: skip
    for s in REGISTRY.values():
        fast = (
            "features computed without autograd, many images at once" if s.frozen_backbone else "no"
        )
        rows.append(
            f"| `{s.name}` | {s.summary} | {frozen[s.trains_from]} "
            f"| {fast} | {s.backbone_lr_factor:g} x `train.lr` | {s.runtime} min, {s.mem_mb} MB |"
        )
    return "\n".join(rows) + "\n"


def architectures_table() -> str:
    """One row per architecture family."""
    rows = ["| `model.arch` | head replaced | last stage (partial_finetune trains it on) |",
            "|---|---|---|"]  # fmt: skip
    for family in FAMILIES:
        names = ", ".join(f"`{arch}`" for arch in family.archs)
        rows.append(f"| {names} | `{family.head}` | `{family.last_stage}` |")
    return "\n".join(rows) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "config-table": markdown_table,
    "strategies-table": strategies_table,
    "architectures-table": architectures_table,
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"


def render(text: str, source: str = "config/README.md") -> str:
    """``text`` with every generated table replaced by its current version."""
    for name, make in TABLES.items():
        start, end = markers(name)
        if start not in text or end not in text:
            raise PipelineError(f"{source}: add the markers {start.strip()} and {end}")
        head, rest = text.split(start, 1)
        text = head + start + make() + end + rest.split(end, 1)[1]
    return text


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, add_help=add_help)
    parser.add_argument("readme", type=Path, help="Markdown file with the table markers")
    return parser


def main(args: argparse.Namespace) -> None:
    text = render(args.readme.read_text(encoding="utf-8"), str(args.readme))
    with atomic_open(args.readme, "w", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
