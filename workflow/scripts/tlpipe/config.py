"""Validate the pipeline config against workflow/schemas/config.schema.yaml.

Snakemake calls :func:`validate_config` while parsing the workflow, so a bad value
stops the run before any job starts. We do not use ``snakemake.utils.validate``
because its message is a multi-line jsonschema dump; users get one line per problem
naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tlpipe.fileio import PipelineError

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = PROJECT_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Load the JSON Schema (YAML) of the config."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def apply_defaults(config: Any, schema: dict[str, Any]) -> Any:
    """Return a copy of ``config`` with every missing key set to its schema default.

    An explicit ``null`` is a value (e.g. ``data.sha256: null`` skips a check), not a
    missing key, so it is kept.
    """
    if isinstance(config, dict) and schema.get("type") == "object":
        result = dict(config)
        for key, subschema in schema.get("properties", {}).items():
            if key in result:
                result[key] = apply_defaults(result[key], subschema)
            elif "default" in subschema:
                result[key] = apply_defaults(copy.deepcopy(subschema["default"]), subschema)
        return result
    return config


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _allowed(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        return "allowed keys: " + ", ".join(sorted(schema.get("properties", {})))
    return " ".join(schema.get("description", "").split())


def format_errors(errors: list[jsonschema.ValidationError]) -> str:
    """One line per error: ``key: problem (what is allowed)``."""
    lines = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        allowed = _allowed(error)
        lines.append(
            f"  {_key_path(error)}: {error.message}" + (f" ({allowed})" if allowed else "")
        )
    return "\n".join(lines)


def check_moved_keys(config: dict[str, Any]) -> None:
    """Name the new place of a key that moved, rather than calling it unexpected."""
    train = config.get("train")
    moved = [key for key in ("seeds", "seed") if isinstance(train, dict) and key in train]
    if moved:
        raise PipelineError(
            f"invalid config:\n  train.{moved[0]}: moved to the top level as `seeds`, a "
            "list (seeds: [1, 2, 3]) beside strategies: the two say which runs there are, "
            "train says how each run trains"
        )


def validate_config(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fill in defaults and validate; raise :class:`PipelineError` listing every problem."""
    schema = load_schema() if schema is None else schema
    check_moved_keys(config or {})
    filled = apply_defaults(config or {}, schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = list(validator.iter_errors(filled))
    if errors:
        raise PipelineError("invalid config:\n" + format_errors(errors))
    data = filled["data"]
    sizes = data["resize_size"], data["crop_size"]
    if None not in sizes and sizes[0] < sizes[1]:
        raise PipelineError(
            f"invalid config:\n  data.resize_size: {data['resize_size']} is smaller than "
            f"data.crop_size {data['crop_size']} (resize_size must be >= crop_size)"
        )
    return filled


def merge_config(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``override``, nested mappings merged key by key (as Snakemake
    merges ``--configfile`` files over the workflow's ``configfile:``)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config_files(paths: list[str | Path]) -> dict[str, Any]:
    """Read config files in order (later ones override earlier ones), fill in the schema
    defaults and validate: the config a Snakemake run with these files would use."""
    config: dict[str, Any] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = yaml.safe_load(handle) or {}
        except OSError as err:
            raise PipelineError(f"{path}: cannot read config file ({err.strerror})") from None
        except yaml.YAMLError as err:
            raise PipelineError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(loaded, dict):
            raise PipelineError(f"{path}: a config file must hold a mapping of keys")
        config = merge_config(config, loaded)
    return validate_config(config)


def schema_leaves(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(dotted key, subschema) of every leaf key, in schema order."""
    leaves = []
    for key, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object":
            leaves += schema_leaves(sub, f"{prefix}{key}.")
        else:
            leaves.append((f"{prefix}{key}", sub))
    return leaves


def _allowed_values(sub: dict[str, Any]) -> str:
    if "enum" in sub:
        return ", ".join(f"`{v}`" for v in sub["enum"])
    if "items" in sub and "enum" in sub["items"]:
        return "list of " + ", ".join(f"`{v}`" for v in sub["items"]["enum"])
    if "items" in sub:
        return "list of " + _allowed_values(sub["items"]).replace("integer", "integers", 1)
    kinds = sub.get("type")
    kinds = " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
    symbols = {"exclusiveMinimum": ">", "minimum": ">=", "maximum": "<="}
    bounds = [f"{symbol} {sub[name]}" for name, symbol in symbols.items() if name in sub]
    return kinds + (f" ({', '.join(bounds)})" if bounds else "")


def markdown_table(schema: dict[str, Any] | None = None) -> str:
    """The README's table of config keys, generated from the schema."""
    schema = load_schema() if schema is None else schema
    rows = ["| key | default | allowed | description |", "|---|---|---|---|"]
    for key, sub in schema_leaves(schema):
        default = yaml.safe_dump(sub.get("default"), default_flow_style=True).strip()
        default = default.removesuffix("...").strip()
        description = " ".join(sub.get("description", "").split()).replace("|", "\\|")
        rows.append(f"| `{key}` | `{default}` | {_allowed_values(sub)} | {description} |")
    return "\n".join(rows) + "\n"
