# Set-up and entry points. `make run` and `make test` create the environment first.
PYTHON ?= python3.11
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= 4

LOCK := requirements.lock

.PHONY: run test lint format docs lock dvc-record snakemake-record

# The environment, from the lock: every package of the tree pinned, with PyPI's hashes
# (--require-hashes: pip refuses any file whose hash differs).
$(VENV)/.installed: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade --quiet pip
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	touch $@

## lock: re-resolve requirements.lock from requirements*.txt (uv; every platform, hashes)
lock: $(VENV)/.installed
	uv pip compile requirements-dev.txt --universal --python-version 3.11 \
	  --generate-hashes --no-header --output-file $(LOCK)

## run: create the environment (from the lock), then run the pipeline with the default config
run: $(VENV)/.installed
	snakemake --cores $(CORES)

## test: create the environment, then run the test suite (lint checks included)
test: $(VENV)/.installed
	pytest

## lint: ruff, ruff format, snakefmt and snakemake --lint
lint: $(VENV)/.installed
	ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint

## format: apply ruff format and snakefmt
format: $(VENV)/.installed
	ruff check --fix . && ruff format . && snakefmt .

## docs: regenerate the README's generated tables (config keys, strategies, architectures)
docs: $(VENV)/.installed
	python workflow/scripts/config_docs.py README.md

## dvc-record: after `snakemake`, record its outputs in dvc.lock without rerunning anything
## (DVC's config check, validate_config, has no rule: it runs here, in a second)
dvc-record:
	@snakemake -n 2>&1 | grep -q "Nothing to be done" || \
	  { echo "snakemake -n still has jobs to run: finish the run first" >&2; exit 1; }
	dvc repro --quiet validate_config
	dvc commit --force --no-relink

## snakemake-record: after `dvc repro` or `dvc pull`, refresh Snakemake's records (mtimes, params)
snakemake-record:
	@dvc status --quiet || \
	  { echo "dvc status: outputs are not up to date; run dvc repro or dvc pull first" >&2; exit 1; }
	snakemake --touch --forceall --cores 1 --quiet
