"""The config -> command-line mapping: one renderer, one parser, the schema's defaults."""

from __future__ import annotations

import argparse
import shlex

import pytest
import train
import yaml
from conftest import REPO

from tlpipe.cli import (
    add_runs_options,
    add_setting_options,
    command_line,
    schema_default,
    section_schema,
)
from tlpipe.config import load_schema, validate_config

SCHEMA = {
    "properties": {
        "opt": {
            "type": "object",
            "properties": {
                "steps": {"type": "integer", "minimum": 1, "default": 3, "description": "n"},
                "rate": {"type": "number", "exclusiveMinimum": 0, "default": 0.5},
                "mode": {"type": "string", "enum": ["a", "b c"], "default": "a"},
                "fast": {"type": "boolean", "default": True},
            },
        }
    }
}


def parse(words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_setting_options(parser, "opt", SCHEMA)
    return parser.parse_args(words)


def test_rendered_settings_parse_back_to_the_same_values():
    values = {"steps": 12, "rate": 0.0001, "mode": "b c", "fast": False}
    line = command_line(values)
    assert line == "--steps 12 --rate 0.0001 --mode 'b c' --no-fast"
    assert vars(parse(shlex.split(line))) == values


def test_omitted_settings_take_the_schema_default_and_hyphens_are_accepted():
    assert vars(parse([])) == {"steps": 3, "rate": 0.5, "mode": "a", "fast": True}
    assert parse(["--no-fast", "--steps", "4"]).steps == 4


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--steps", "0"], "0 is less than the minimum of 1"),
        (["--steps", "2.5"], "'2.5' is not a integer"),
        (["--rate", "0"], "0.0 is less than or equal to the minimum of 0"),
        (["--mode", "z"], "'z' is not one of"),
    ],
)
def test_values_the_schema_refuses_are_refused_with_its_reason(words, message, capsys):
    with pytest.raises(SystemExit):
        parse(words)
    assert message in capsys.readouterr().err


def test_command_lines_are_what_dvc_renders_for_a_mapping():
    """Lists (--seeds 1 2 3), None, booleans and words the shell would split or read,
    rendered exactly as DVC 3 renders `${mapping}` in a command (parsing.bool:
    boolean_optional, parsing.list: nargs)."""
    from dvc.parsing.interpolate import to_str

    values = {"strategies": ["finetune", "feature_extract"], "seeds": [1, 2, 3],
              "input": None, "fast": False, "slow": True, "lr": 0.001,
              "url": "https://x.org/a b.zip?sig=1&t=2", "path": "it's \"here\" $HOME"}  # fmt: skip
    line = command_line(values)
    assert line == to_str(values, config={"bool": "boolean_optional"})
    assert shlex.split(line) == [
        "--strategies", "finetune", "feature_extract", "--seeds", "1", "2", "3",
        "--input", "None", "--no-fast", "--slow", "--lr", "0.001",
        "--url", values["url"], "--path", values["path"],
    ]  # fmt: skip


def test_nested_lists_and_mappings_have_no_command_line_form():
    for value in ([[1], [2]], {"a": 1}):
        with pytest.raises(ValueError, match="no command-line form"):
            command_line({"key": value})


def test_runs_options_take_the_lists_and_refuse_what_the_schema_refuses(capsys):
    parser = argparse.ArgumentParser()
    add_runs_options(parser)
    args = parser.parse_args(["--strategies", "finetune", "feature_extract", "--seeds", "3", "1"])
    assert (args.strategies, args.seeds) == (["finetune", "feature_extract"], [3, 1])
    for words, message in (
        (["--strategies", "linear_probe", "--seeds", "1"], "'linear_probe' is not one of"),
        (["--strategies", "finetune", "--seeds", "1", "1"], "--seeds: 1 given twice"),
        (["--strategies", "finetune", "--seeds", "-1"], "-1 is less than the minimum of 0"),
        (["--strategies", "finetune"], "required: --seeds"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(words)
        assert message in capsys.readouterr().err


def test_train_py_takes_every_train_setting_of_the_schema_with_its_default():
    """The script declares no training option of its own: a new key of the schema's
    train section becomes an option with the schema's default."""
    required = ["--data-dir", "d", "--strategy", "finetune", "--out-model", "m"]
    required += ["--out-metrics", "t"]
    args = train.get_args_parser().parse_args(required)
    defaults = validate_config({})
    assert {key: getattr(args, key) for key in section_schema("train")} == defaults["train"]
    assert (args.arch, args.crop_size) == (schema_default("model.arch"), None)  # from weights


def test_the_committed_config_renders_as_dvc_renders_it():
    """dvc.yaml's ${train}, with parsing.bool = boolean_optional (.dvc/config)."""
    config = validate_config(yaml.safe_load((REPO / "config/config.yaml").read_text()))
    assert command_line(config["train"]) == (
        "--epochs 25 --batch_size 4 --lr 0.001 --momentum 0.9 --step_size 7 --gamma 0.1 "
        "--device auto --num_workers 2 --precision auto --cache_images"
    )
    assert "bool = boolean_optional" in (REPO / ".dvc/config").read_text()
    assert set(section_schema("train")) == set(load_schema()["properties"]["train"]["properties"])
