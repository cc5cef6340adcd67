"""The code a step runs: its script and the ``tlpipe`` modules the script imports.

A change to one of those files reruns the step, and a change to any other file does not:
the Snakemake rules list :func:`library_modules` of their script as input (common.smk),
and each stage of ``dvc.yaml`` lists the same files as deps (tests/test_dvc.py checks
that the two agree). The imports are read from the source with :mod:`ast`, transitively
(``import tlpipe.x``, ``from tlpipe.x import y``, ``from tlpipe import x``, relative
imports inside the package, and imports inside functions too: they run when the
function does), so the list follows the code without being maintained by hand.

Standard library only: the workflow calls this while it parses.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "tlpipe"
PACKAGE_DIR = Path(__file__).resolve().parent
SCRIPTS_DIR = PACKAGE_DIR.parent


def module_file(name: str, root: Path = SCRIPTS_DIR) -> Path | None:
    """The file of a ``tlpipe`` module (``tlpipe.x`` -> tlpipe/x.py, the package itself ->
    tlpipe/__init__.py); None when ``name`` is no module (an attribute of one)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_of(path: Path, root: Path) -> str | None:
    """The dotted package a file belongs to (for relative imports), None for a script."""
    try:
        relative = path.resolve().parent.relative_to(root.resolve())
    except ValueError:
        return None
    return ".".join(relative.parts) or None


@functools.cache  # a module is read once per process, however many scripts import it
def imported_names(path: Path, root: Path = SCRIPTS_DIR) -> frozenset[str]:
    """Dotted names of the ``tlpipe`` modules (or module attributes) ``path`` imports.
    Importing ``tlpipe.x`` runs ``tlpipe/__init__.py`` too, so the package is named."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(path, root)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y, inside the package
                if package is None:
                    continue
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            # `from tlpipe import stats`: stats may be a module
            names.update(f"{module}.{alias.name}" for alias in node.names)
    found = {name for name in names if name.split(".")[0] == PACKAGE}
    return frozenset(found | ({PACKAGE} if found else set()))


def library_modules(script: str | Path, root: Path = SCRIPTS_DIR) -> list[Path]:
    """Every ``tlpipe`` module file ``script`` imports, directly or through another
    module, sorted (``script`` itself is not listed); ``root`` holds the package."""
    seen: set[Path] = set()
    todo = [Path(script).resolve()]
    while todo:
        for name in imported_names(todo.pop(), root):
            path = module_file(name, root)
            if path is not None and path not in seen:
                seen.add(path)
                todo.append(path)
    return sorted(seen)


def project_relative(paths: list[Path], root: Path = SCRIPTS_DIR.parents[1]) -> list[str]:
    """``paths`` relative to the repository, as dvc.yaml spells them."""
    return [path.relative_to(root).as_posix() for path in paths]
