"""Validate the pipeline config against workflow/schemas/config.schema.yaml.

Snakemake calls :func:`validate_config` while parsing the workflow, so a bad value
stops the run before any job starts. We do not use ``snakemake.utils.validate``
because its message is a multi-line jsonschema dump; users get one line per problem
naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tlpipe.errors import PipelineError

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


# Words that mean null where the schema allows it (DVC and the scripts write None).
_NULL_WORDS = ("null", "Null", "NULL", "~", "None", "none")


def _as_type(word: str, kind: str) -> tuple[bool, Any]:
    """``(True, value)`` when ``word`` reads as a value of the schema type ``kind``."""
    if kind == "null" and word in _NULL_WORDS:
        return True, None
    if kind == "boolean" and word.lower() in ("true", "false"):
        return True, word.lower() == "true"
    if kind in ("integer", "number") and re.fullmatch(r"[+-]?\d+", word.strip()):
        return True, int(word)
    if kind == "number":
        try:
            number = float(word)
        except ValueError:
            return False, None
        return math.isfinite(number), number
    if kind in ("array", "object"):
        try:
            value = yaml.safe_load(word)
        except yaml.YAMLError:
            return False, None
        return isinstance(value, list if kind == "array" else dict), value
    return False, None


def coerce_value(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` converted to the schema's type where it is a string that reads as one.

    Snakemake hands a nested ``--config`` value over as a string (``train={epochs: 2}``
    gives ``{"epochs": "2"}``, ``seeds=[1,2]`` gives ``["1", "2"]``: snakemake#2099), so
    the words are read here as the schema says they are meant. A string that reads as
    no allowed type is left as it is, for validation to name it.
    """
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if isinstance(value, str) and ("string" not in kinds or value in _NULL_WORDS):
        for kind in ("null", "boolean", "integer", "number", "array", "object"):
            ok, converted = _as_type(value, kind) if kind in kinds else (False, None)
            if ok:
                value = converted
                break
    if isinstance(value, list) and "items" in schema:
        return [coerce_value(item, schema["items"]) for item in value]
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        return {k: coerce_value(v, properties[k]) if k in properties else v
                for k, v in value.items()}  # fmt: skip
    return value


def coerce_config(config: Any, schema: dict[str, Any], given: Any, like: Any = None) -> Any:
    """``config`` with the values of ``given`` (Snakemake's ``--config`` and
    ``--configfile`` values, as it parsed them) converted by :func:`coerce_value`; values
    from the workflow's config file are kept as they are (DVC reads that file too, and
    must see what Snakemake validates).

    A mapping that ``given`` touches comes back with its keys in the order of ``like``
    (config/config.yaml as DVC reads it; the schema's order for keys it lacks), whatever
    order Snakemake merged them in (it puts the given keys first): ``train`` then renders
    the command line DVC renders, and a setting given again in another file or order
    does not read to Snakemake as changed params (which would retrain every run)."""
    if isinstance(config, dict) and isinstance(given, dict) and "properties" in schema:
        properties = schema["properties"]
        like = like if isinstance(like, dict) else {}
        keys = [*like, *(key for key in properties if key not in like)]
        order = {key: i for i, key in enumerate(keys)}
        result = {k: config[k] for k in sorted(config, key=lambda k: order.get(k, len(order)))}
        for key, value in given.items():
            if key in result and key in properties:
                result[key] = coerce_config(result[key], properties[key], value, like.get(key))
        return result
    return coerce_value(config, schema) if config == given else config


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


def read_config_file(path: str | Path) -> dict[str, Any]:
    """One config file's mapping, keys in the file's order (not yet validated)."""
    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle) or {}
    except OSError as err:
        raise PipelineError(f"{path}: cannot read config file ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise PipelineError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(loaded, dict):
        raise PipelineError(f"{path}: a config file must hold a mapping of keys")
    return loaded


def load_config_files(paths: list[str | Path]) -> dict[str, Any]:
    """Read config files in order (later ones override earlier ones), fill in the schema
    defaults and validate: the config a Snakemake run with these files would use."""
    config: dict[str, Any] = {}
    for path in paths:
        config = merge_config(config, read_config_file(path))
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
