"""What an edit reruns: each step depends on the code it runs, in both runners."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_project, dvc, git, planned_jobs, run, snakemake

from tlpipe.deps import library_modules

TLPIPE = REPO / "workflow/scripts/tlpipe"


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def test_imports_are_followed_in_every_spelling(tmp_path):
    """`import tlpipe.x`, `from tlpipe.x import y`, `from tlpipe import x` (a module) and
    imports inside functions; `from tlpipe import __version__` is no module."""
    script = tmp_path / "script.py"
    script.write_text(
        "import json\n"
        "import tlpipe.paths\n"
        "from tlpipe import __version__, stats\n"
        "def late():\n"
        "    from tlpipe.fileio import PipelineError\n"
    )
    assert names(library_modules(script)) == [
        "__init__.py", "errors.py", "fileio.py", "paths.py", "stats.py"
    ]  # fmt: skip


def test_modules_imported_by_modules_are_included():
    """report.py -> tlpipe.runs -> tlpipe.strategies -> tlpipe.architectures -> tlpipe.errors."""
    found = names(library_modules(REPO / "workflow/scripts/report.py"))
    assert {"strategies.py", "architectures.py", "errors.py", "stats.py"} <= set(found)
    assert "model.py" not in found and "engine.py" not in found


def test_relative_imports_inside_the_package(tmp_path):
    package = tmp_path / "tlpipe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\nfrom .c import VALUE\n")
    (package / "b.py").write_text("import os\n")
    (package / "c.py").write_text("VALUE = 1\n")
    (package / "unused.py").write_text("")
    script = tmp_path / "script.py"
    script.write_text("from tlpipe.a import b\n")
    found = library_modules(script, root=tmp_path)
    assert names(found) == ["__init__.py", "a.py", "b.py", "c.py"]


def test_the_data_steps_do_not_depend_on_the_loaders_or_the_statistics():
    """The targets of the rerun table (README, What an edit reruns)."""
    scripts = REPO / "workflow/scripts"
    for script in ("download.py", "prepare_data.py"):
        assert not {"dataset.py", "stats.py", "engine.py", "model.py"} & set(
            names(library_modules(scripts / script))
        ), script
    for script in ("train.py", "evaluate.py", "predict.py", "export.py"):
        assert "stats.py" not in names(library_modules(scripts / script)), script


# --- the rerun table, measured with dry runs ------------------------------------------------

README = REPO / "docs/reproducibility.md"
TABLE_START, TABLE_END = "<!-- rerun-table:start -->", "<!-- rerun-table:end -->"


def group(name: str) -> str:
    """A rule or stage as the table names it: `train_finetune` and `train@finetune-1`
    are `train`, `report@runs` is `report`."""
    return re.split(r"[@_]", name, maxsplit=1)[0] if name.startswith(("train", "report",
                    "predict", "evaluate")) else name  # fmt: skip


def touched_files() -> list[str]:
    """Every tlpipe module, every report template and the config schema."""
    modules = sorted(p.relative_to(REPO).as_posix() for p in TLPIPE.glob("*.py"))
    templates = sorted(
        p.relative_to(REPO).as_posix() for p in (REPO / "workflow/report").glob("*.j2")
    )
    return [*modules, *templates, "workflow/schemas/config.schema.yaml"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A project whose every output exists (placeholders) and is up to date in both runners:
    the default config, recorded with `snakemake --touch` and `make dvc-record`."""
    project = copy_project(tmp_path_factory.mktemp("rerun") / "p")
    summary = snakemake(project, "--summary").stdout.splitlines()[1:]
    for line in summary:
        path = project / line.split("\t")[0]
        if path.suffix:  # every file output has one; data/<name> and reports/figures do not
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"placeholder of {path.name}\n")
        else:
            path.mkdir(parents=True, exist_ok=True)
            (path / "placeholder.txt").write_text("placeholder\n")
    # written after `--touch`, with the report's times: the run summary (onsuccess) reads it
    comparison = project / "metrics/comparison.json"
    comparison.unlink()
    snakemake(project, "--touch", "--cores", "1", "--quiet")
    comparison.write_text("{}\n")
    html = (project / "reports/comparison.html").stat()
    os.utime(comparison, ns=(html.st_atime_ns, html.st_mtime_ns))
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "project")
    run(["make", "dvc-record"], cwd=project)
    assert planned_jobs(project) == {}
    assert dvc(project, "status", "--json").stdout.strip() in ("", "{}")
    return project


def reruns(project: Path, relative: str) -> tuple[list[str], list[str]]:
    """(Snakemake's rules, DVC's stages) a one-line edit of ``relative`` reruns; the file is
    put back as it was (content and times) afterwards."""
    path = project / relative
    original, times = path.read_bytes(), path.stat()
    try:
        path.write_bytes(original + b"\n# edited\n" if path.suffix == ".py" else original + b"\n")
        rules = sorted({group(rule) for rule in planned_jobs(project)} - {"all"})
        status = json.loads(dvc(project, "status", "--json").stdout or "{}")
        stages = sorted({group(stage) for stage in status})
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    return rules, stages


def table_row(relative: str, rules: list[str], stages: list[str]) -> str:
    def cell(names: list[str]) -> str:
        return ", ".join(f"`{name}`" for name in names) or "nothing"

    return f"| `{relative.removeprefix('workflow/')}` | {cell(rules)} | {cell(stages)} |"


def readme_rows() -> dict[str, str]:
    """The README's rerun table: edited file -> its row."""
    text = README.read_text()
    table = text[text.index(TABLE_START) : text.index(TABLE_END)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {"workflow/" + row.split("`")[1]: row for row in rows}


def test_the_readme_table_lists_every_module_and_template():
    assert sorted(readme_rows()) == sorted(touched_files())


def read_by() -> dict[str, tuple[str, ...]]:
    """Edited file -> the dvc.yaml stages that list it as a dependency. Snakemake's rules
    take their code inputs from the same import graph (tlpipe/deps.py; tests/test_dvc.py
    holds the two to it), so two files read by the same stages rerun the same steps."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    deps = {name: set(stage.get("do", stage).get("deps", [])) for name, stage in stages.items()}
    return {f: tuple(sorted(n for n, d in deps.items() if f in d)) for f in touched_files()}


def same_reruns() -> list[list[str]]:
    """The edited files grouped by the stages that read them (one dry run per group)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for relative, stages in read_by().items():
        groups.setdefault(stages, []).append(relative)
    return list(groups.values())


@pytest.mark.workflow
@pytest.mark.parametrize("files", same_reruns(), ids=lambda files: files[0].split("/")[-1])
def test_an_edit_reruns_what_the_readme_table_says(recorded, files):
    """Measured on the first file of each group; every file of the group has that row."""
    rules, stages = reruns(recorded, files[0])
    for relative in files:
        measured = table_row(relative, rules, stages)
        assert readme_rows().get(relative) == measured, f"README, rerun table:\n{measured}"
