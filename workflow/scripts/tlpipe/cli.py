"""Config settings as command-line options: the one place that maps one to the other.

A section of the config (``train``) reaches a script as ``--key value`` per key, spelled
as DVC spells a dict unpacked into a command (``${train}`` in dvc.yaml, with
``parsing.bool: boolean_optional`` in .dvc/config): ``--batch_size 4``, ``--lr 0.001``,
``--cache_images`` / ``--no-cache_images``. The Snakemake rules render the same words
with :func:`command_line`, and the scripts declare the options with
:func:`add_setting_options`, typed, checked and defaulted from the schema. So adding a
setting to the section touches the schema, the config and the code that uses it.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

import jsonschema

from tlpipe.config import load_schema

PYTHON_TYPES = {"integer": int, "number": float, "string": str}


def section_schema(section: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The properties of one config section (``train``) in the schema."""
    schema = load_schema() if schema is None else schema
    return schema["properties"][section]["properties"]


def schema_default(key: str, schema: dict[str, Any] | None = None) -> Any:
    """The schema's default of a dotted key (``data.crop_size``)."""
    node = load_schema() if schema is None else schema
    for part in key.split("."):
        node = node["properties"][part]
    return node["default"]


def _word(value: Any) -> str:
    """One value as DVC writes it into a command: strings quoted for the shell, None as
    ``None`` (the scripts read it as unset: :func:`tlpipe.runner.optional_arg`)."""
    return shlex.quote(value) if isinstance(value, str) else str(value)


def command_line(values: dict[str, Any]) -> str:
    """``values`` as DVC renders a mapping ``${section}`` in a command, with
    ``parsing.bool: boolean_optional`` and the default ``parsing.list: nargs``: ``--key
    value``, booleans as ``--key`` / ``--no-key``, a list as ``--key a b c``."""
    words = []
    for key, value in values.items():
        if isinstance(value, bool):
            words.append(f"--{key}" if value else f"--no-{key}")
        elif isinstance(value, list | tuple):
            if any(isinstance(item, list | tuple | dict) for item in value):
                raise ValueError(f"{key}: {value!r}: a nested list has no command-line form")
            words += [f"--{key}", *map(_word, value)] if value else []
        elif isinstance(value, dict):
            raise ValueError(f"{key}: {value!r}: a mapping has no command-line form")
        else:
            words += [f"--{key}", _word(value)]
    return " ".join(words)


def _checked(key: str, subschema: dict[str, Any]):
    """An argparse ``type`` that converts a word and checks it against the schema."""
    convert = PYTHON_TYPES[subschema["type"]]

    def parse(word: str):
        try:
            value = convert(word)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{word!r} is not a {subschema['type']}") from None
        try:
            jsonschema.validate(value, subschema)
        except jsonschema.ValidationError as err:
            raise argparse.ArgumentTypeError(err.message) from None
        return value

    parse.__name__ = key  # argparse names the type in its "invalid ... value" message
    return parse


def add_setting_options(
    parser: argparse.ArgumentParser, section: str, schema: dict[str, Any] | None = None
) -> list[str]:
    """Add one option per key of ``section``; return the keys (the options' ``dest``).

    Each option is ``--key`` (DVC's spelling) with a ``--key-with-hyphens`` alias for
    people typing it; its type, allowed values, default and help come from the schema.
    """
    properties = section_schema(section, schema)
    group = parser.add_argument_group(f"{section} settings (config: {section}.*)")
    for key, subschema in properties.items():
        names = dict.fromkeys([f"--{key}", f"--{key.replace('_', '-')}"])
        default = subschema.get("default")
        description = " ".join(subschema.get("description", "").split())
        help_text = f"{description} (config: {section}.{key}; default: {default})"
        help_text = help_text.replace("%", "%%")
        if subschema["type"] == "boolean":
            group.add_argument(
                *names, dest=key, action=argparse.BooleanOptionalAction, default=default,
                help=help_text,
            )  # fmt: skip
            continue
        choices = subschema.get("enum")
        group.add_argument(
            *names, dest=key, type=_checked(key, subschema), default=default,
            metavar="{" + ",".join(map(str, choices)) + "}" if choices else key.upper(),
            help=help_text,
        )  # fmt: skip
    return list(properties)


class _Distinct(argparse.Action):
    """Store a list option's values, refusing one given twice (the schema's uniqueItems)."""

    def __call__(self, parser, namespace, values, option_string=None):
        twice = sorted({str(v) for v in values if values.count(v) > 1})
        if twice:
            parser.error(f"argument {option_string}: {', '.join(twice)} given twice")
        setattr(namespace, self.dest, list(values))


def add_runs_options(
    parser: argparse.ArgumentParser, required: bool = True, schema: dict[str, Any] | None = None
) -> None:
    """``--strategies NAME...`` and ``--seeds N...``: the runs (every strategy x seed) a
    step reads, spelled as dvc.yaml's ``${item}`` renders the config's two lists (``--seeds
    1 2 3``: DVC's ``parsing.list: nargs``) and checked against the schema's items."""
    schema = load_schema() if schema is None else schema
    group = parser.add_argument_group("runs (config: strategies, seeds)")
    helps = {
        "strategies": "strategies of the runs (config: strategies)",
        "seeds": "seeds of the runs, one run per strategy and seed (config: seeds)",
    }
    for key, metavar in (("strategies", "STRATEGY"), ("seeds", "SEED")):
        group.add_argument(
            f"--{key}", nargs="+", required=required, default=None, action=_Distinct,
            type=_checked(key, schema["properties"][key]["items"]), metavar=metavar,
            help=helps[key],
        )  # fmt: skip
