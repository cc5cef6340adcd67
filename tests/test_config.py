"""Config schema: defaults, documentation, and errors that name the key."""

from __future__ import annotations

import config_docs
import pytest
import yaml
from conftest import REPO, snakemake, write_config

from tlpipe.cli import command_line
from tlpipe.config import (
    apply_defaults,
    coerce_config,
    load_schema,
    markdown_table,
    merge_config,
    schema_leaves,
    validate_config,
)
from tlpipe.errors import PipelineError


def test_every_key_has_description_and_default():
    leaves = list(schema_leaves(load_schema()))
    assert len(leaves) >= 20
    for key, sub in leaves:
        assert sub.get("description"), key
        assert "default" in sub, key


def test_committed_config_equals_schema_defaults():
    """config/config.yaml spells out every default, so users see every knob in one file."""
    committed = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert committed == apply_defaults({}, load_schema())
    assert validate_config(committed) == committed


def test_defaults_are_the_tutorial_settings():
    config = validate_config({})
    assert config["train"] == {
        "epochs": 25, "batch_size": 4, "lr": 0.001, "momentum": 0.9, "step_size": 7,
        "gamma": 0.1, "device": "auto", "num_workers": 2,
        "precision": "auto", "cache_images": True,
    }  # fmt: skip
    assert config["strategies"] == ["finetune", "feature_extract"]
    assert config["seeds"] == [1, 2, 3, 4, 5]
    assert config["data"]["sha256"].startswith("fbc41b31")
    assert config["model"]["weights_url"] == config["model"]["weights_sha256"] == "auto"


def test_explicit_null_is_kept_and_partial_sections_are_filled():
    config = validate_config({"data": {"sha256": None}, "train": {"epochs": 3}})
    assert config["data"]["sha256"] is None
    assert config["data"]["name"] == "hymenoptera_data"
    assert config["train"]["epochs"] == 3 and config["train"]["lr"] == 0.001


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"train": {"lr": -0.1}}, "train.lr: -0.1 is less than or equal to the minimum of 0"),
        ({"train": {"lr": 0}}, "train.lr: 0 is less than or equal to the minimum of 0"),
        (
            {"strategies": ["finetune", "linear_probe"]},
            "strategies.1: 'linear_probe' is not one of",
        ),
        ({"train": {"epochs": "ten"}}, "train.epochs: 'ten' is not of type 'integer'"),
        ({"train": {"epochs": 2.5}}, "train.epochs: 2.5 is not of type 'integer'"),
        ({"train": {"learning_rate": 0.1}}, "train: Additional properties are not allowed"),
        ({"trian": {}}, "<top level>: Additional properties are not allowed ('trian'"),
        ({"data": {"sha256": "abc"}}, "data.sha256: 'abc' does not match"),
        ({"model": {"arch": "vgg16"}}, "model.arch: 'vgg16' is not one of"),
        ({"train": {"momentum": 1.5}}, "train.momentum: 1.5 is greater than the maximum of 1"),
        ({"train": {"device": "tpu"}}, "train.device: 'tpu' is not one of"),
        ({"strategies": []}, "strategies: [] should be non-empty"),
        ({"data": {"crop_size": 224, "resize_size": 200}}, "data.resize_size: 200 is smaller"),
    ],
)
def test_bad_values_name_the_key(config, expected):
    with pytest.raises(PipelineError) as excinfo:
        validate_config(config)
    assert expected in str(excinfo.value)


def test_unknown_key_lists_allowed_keys():
    with pytest.raises(PipelineError, match=r"allowed keys: .*batch_size.*epochs.*lr"):
        validate_config({"train": {"learning_rate": 0.1}})


@pytest.mark.workflow
def test_snakemake_stops_before_any_job_on_bad_config(project):
    configfile = write_config(project, {"train": {"lr": -1}, "strategies": ["finetune", "x"]})
    result = snakemake(project, "-n", "--configfile", configfile.name, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid config" in output
    assert "train.lr: -1" in output and "strategies.1: 'x' is not one of" in output
    assert "Traceback" not in output
    assert not (project / "data" / "raw").exists() and not (project / "logs").exists()


def test_readme_generated_tables_are_current():
    """config/README.md's tables of config keys, strategies and architectures are
    generated from the schema and the registries (make docs updates them)."""
    readme = (REPO / "config/README.md").read_text()
    assert config_docs.render(readme) == readme, "README tables are stale: run `make docs`"
    assert markdown_table() in readme


def test_schema_lists_the_registered_strategies():
    """The schema's enum is the registry's list (tlpipe/strategies.py owns it)."""
    from tlpipe.strategies import STRATEGIES

    items = load_schema()["properties"]["strategies"]["items"]
    assert tuple(items["enum"]) == STRATEGIES


def test_seeds_must_be_a_non_empty_list_of_distinct_integers():
    for bad in ([], [1, 1], [-1], 3):
        with pytest.raises(PipelineError, match=r"\n  seeds(\.0)?: "):
            validate_config({"seeds": bad})


def test_seeds_under_train_name_their_new_place():
    for old, value in (("seeds", [1, 2]), ("seed", 42)):
        with pytest.raises(PipelineError, match=rf"train\.{old}: moved to the top level as"):
            validate_config({"train": {old: value}})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"train": {"epochs": "2"}}, {"train": {"epochs": 2}}),  # integer
        ({"train": {"lr": "0.01", "momentum": "1"}}, {"train": {"lr": 0.01, "momentum": 1}}),
        ({"train": {"lr": "1e-2"}}, {"train": {"lr": 0.01}}),  # number, any float spelling
        ({"train": {"cache_images": "false"}}, {"train": {"cache_images": False}}),  # boolean
        ({"export": {"enabled": "true"}}, {"export": {"enabled": True}}),
        ({"data": {"sha256": "null", "crop_size": "64"}},
         {"data": {"sha256": None, "crop_size": 64}}),
        ({"predict": {"input": "None"}}, {"predict": {"input": None}}),  # null
        ({"seeds": ["1", "2"]}, {"seeds": [1, 2]}),  # array items
        ({"seeds": "[3, 4]"}, {"seeds": [3, 4]}),  # an array as one word
        ({"strategies": ["finetune"]}, {"strategies": ["finetune"]}),
        # strings stay strings where the schema wants one
        ({"model": {"weights": "none"}, "data": {"name": "2024"}},
         {"model": {"weights": "none"}, "data": {"name": "2024"}}),
        # a word that is no allowed type is left for validation to name
        ({"train": {"epochs": "ten"}}, {"train": {"epochs": "ten"}}),
    ],
)  # fmt: skip
def test_command_line_values_take_the_schema_types(given, expected):
    """What `snakemake --config` hands over (nested values as strings) is read as the
    schema's types; the values of config files are left as they are."""
    config = merge_config(validate_config({}), given)
    coerced = coerce_config(config, load_schema(), given)
    for section, values in expected.items():
        found = coerced[section]
        assert ({k: found[k] for k in values} if isinstance(values, dict) else found) == values
    untouched = coerce_config(config, load_schema(), {})
    assert untouched == config


def test_settings_given_again_keep_the_config_files_order():
    """Snakemake puts the keys of a --configfile or --config mapping first; they come back
    in config/config.yaml's order (what DVC renders), the schema's order after it, so the
    train command line, and with it Snakemake's params, do not change with how a setting
    was given (a changed order once retrained every run)."""
    schema = load_schema()
    in_file = {"train": {"epochs": 2, "num_workers": 0, "lr": 0.01}}
    given = {"train": {"lr": 0.01, "epochs": 2}}  # another file, its own order
    merged = {"train": {**given["train"], **validate_config(in_file)["train"]}}
    coerced = coerce_config(merged, schema, given, in_file)
    rest = [k for k in schema["properties"]["train"]["properties"] if k not in in_file["train"]]
    assert list(coerced["train"]) == ["epochs", "num_workers", "lr", *rest]
    assert command_line(coerced["train"]).startswith("--epochs 2 --num_workers 0 --lr 0.01 ")
    # no config file (the workflow used as a module elsewhere): the schema's order
    assert list(coerce_config(merged, schema, given)["train"]) == list(
        schema["properties"]["train"]["properties"]
    )


def test_a_value_given_as_a_word_gets_the_config_file_message():
    schema = load_schema()
    given = {"train": {"epochs": "ten"}, "seeds": ["1", "1"]}
    coerced = coerce_config(merge_config(validate_config({}), given), schema, given)
    with pytest.raises(PipelineError) as from_words:
        validate_config(coerced)
    with pytest.raises(PipelineError) as from_file:
        validate_config({"train": {"epochs": "ten"}, "seeds": [1, 1]})
    assert str(from_words.value) == str(from_file.value)
    assert "train.epochs: 'ten' is not of type 'integer'" in str(from_words.value)
    assert "seeds: [1, 1] has non-unique elements" in str(from_words.value)


@pytest.mark.parametrize("key", ["data.url", "data.manifest", "model.weights", "model.weights_url"])
def test_values_dvc_yaml_quotes_cannot_hold_a_single_quote(key):
    """dvc.yaml passes these in '...' to the shell: a single quote would end the quoting
    under DVC only, so both runners refuse it with the schema's reason."""
    section, name = key.split(".")
    with pytest.raises(PipelineError, match=rf"{key}: .* does not match .*single quote"):
        validate_config({section: {name: "/data/it's here"}})
    assert validate_config({section: {name: '/my data/"a" & b?x=1'}})[section][name]
