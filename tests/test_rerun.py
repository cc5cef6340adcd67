"""What an edit reruns: each step depends on the code it runs, in both runners."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO

from tlpipe.deps import library_modules


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
    assert names(library_modules(script)) == ["__init__.py", "fileio.py", "paths.py", "stats.py"]


def test_modules_imported_by_modules_are_included():
    """report.py -> tlpipe.strategies -> tlpipe.architectures -> tlpipe.fileio."""
    found = names(library_modules(REPO / "workflow/scripts/report.py"))
    assert {"strategies.py", "architectures.py", "fileio.py", "stats.py"} <= set(found)
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
