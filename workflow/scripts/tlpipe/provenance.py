"""Provenance: what produced a checkpoint or metric file, recorded inside it."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import torchvision

# The repository (workflow/scripts/tlpipe/ is three levels down), found here rather than
# imported from tlpipe.config: a step that records provenance does not depend on the
# config validation code.
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a config (key order does not matter)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Commit of the code and whether tracked files differ from it (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def collect(**extra: Any) -> dict[str, Any]:
    """Versions, platform and git state, plus run-specific fields (device, seed, hashes)."""
    return {
        "git": git_state(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "platform": platform.platform(),
        "machine": platform.machine(),
        **extra,
    }
