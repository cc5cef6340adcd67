# Set-up and entry points. `make run` and `make test` create the environment first.
PYTHON ?= python3.11
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= 4

RUNTIME_LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: run test lint format docs lock dvc-record snakemake-record

# The environment, only from a lock: every package of the tree pinned, with PyPI's hashes
# (--require-hashes: pip refuses any file whose hash differs). No step before it: the pip
# that python3.11 -m venv bundles checks hashes. `make run` installs the runtime lock,
# `make test` the dev lock (the same pins plus tests, linters, benchmarks and uv).
$(VENV)/.runtime: $(RUNTIME_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r $(RUNTIME_LOCK)
	touch $@

# The dev lock holds the runtime lock's pins, so it also makes the runtime environment.
$(VENV)/.dev: $(DEV_LOCK) $(RUNTIME_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	touch $(VENV)/.runtime $@

# uv resolves for every platform (Linux, macOS, Windows) with every file's hash; it keeps
# the pins of the lock it rewrites unless an edited requirement needs another version.
# The runtime lock is resolved under the dev lock's pins, so the two never differ.
UV_COMPILE := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

## lock: after editing requirements*.txt, re-resolve requirements-dev.lock and requirements.lock
lock: $(VENV)/.dev
	uv pip compile requirements-dev.txt $(UV_COMPILE) --output-file $(DEV_LOCK)
	uv pip compile requirements.txt --constraint $(DEV_LOCK) $(UV_COMPILE) --output-file $(RUNTIME_LOCK)

## run: create the environment (from the runtime lock), then run the pipeline with the default config
run: $(VENV)/.runtime
	snakemake --cores $(CORES)

## test: create the environment (from the dev lock), then run the test suite (lint checks included)
test: $(VENV)/.dev
	pytest

## lint: ruff, ruff format, snakefmt and snakemake --lint
lint: $(VENV)/.dev
	ruff check . && ruff format --check . && snakefmt --check . && snakemake --lint

## format: apply ruff format and snakefmt
format: $(VENV)/.dev
	ruff check --fix . && ruff format . && snakefmt .

## docs: regenerate config/README.md's generated tables (config keys, strategies, architectures)
docs: $(VENV)/.runtime
	python workflow/scripts/config_docs.py config/README.md

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
