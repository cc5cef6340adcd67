"""Checkpoints: the one schema of the files train.py writes, and the one reader of them.

Three kinds, each a dict written with ``torch.save`` and read with ``weights_only=True``
(tensors and plain Python types only, so reading a file runs no code from it):

- ``model``: ``models/<strategy>/seed<k>/model.pt`` (the best validation epoch) and
  ``final.pt`` (the last epoch): the weights and what is needed to use and trace them
  (architecture, strategy, class names, input sizes, precision, config, provenance).
- ``resume``: ``checkpoints/<strategy>/seed<k>/last.pt``, after every epoch: weights,
  optimiser, scheduler, progress and the hash of the settings that produced it.
- ``best``: ``checkpoints/<strategy>/seed<k>/best.pt``: the best epoch's weights so far.

Every file carries ``format``: ``{"name": "tlpipe-checkpoint", "version": 1, "kind": ...}``.
:func:`load_checkpoint` is how every step reads one: a missing, truncated, corrupt or
foreign file (a plain state dict, another program's checkpoint, a missing key, another
kind, a newer version) stops with one :class:`PipelineError` line naming the file, what
is wrong and what to do.

Files written before the version key (version 0): a ``model.pt``/``final.pt`` holds the
same keys as version 1, so it is still read (``precision`` fp32 where it predates that
key, as evaluation always assumed); one that lacks a key gets the message to retrain. A
version-0 ``last.pt`` is not resumed from: :func:`load_resume_state` says so in a
warning and training starts over, as it does when the settings differ.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tlpipe.errors import PipelineError, first_line
from tlpipe.fileio import atomic_path
from tlpipe.model import build_model

log = logging.getLogger(__name__)

NAME = "tlpipe-checkpoint"
VERSION = 1
# kind -> the keys a checkpoint of that kind holds (besides ``format``)
KEYS = {
    "model": ("state_dict", "epoch", "val_acc", "arch", "strategy", "class_names", "config",
              "provenance", "transform", "precision"),
    "resume": ("state_dict", "epoch", "config_sha256", "progress", "optimizer", "scheduler"),
    "best": ("state_dict", "epoch"),
}  # fmt: skip
# what each kind is called in messages, and where a good one is found
DESCRIPTION = {
    "model": ("model checkpoint", "give a models/<strategy>/seed<k>/model.pt (or final.pt)"),
    "resume": ("resumable training state", "training starts over"),
    "best": ("best-epoch state", "delete it and retrain"),
}
# version-0 (unversioned) model checkpoints: keys that may be absent, and their value
LEGACY_DEFAULTS = {"precision": "fp32"}


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with contiguous tensors (not the channels_last layout used
    for speed), so checkpoints look the same whatever layout trained them."""
    return {key: value.contiguous() for key, value in model.state_dict().items()}


def save_checkpoint(path: str | os.PathLike[str], kind: str, payload: dict[str, Any]) -> None:
    """Write a checkpoint of ``kind`` (every key of :data:`KEYS` for it, plus ``format``)
    with ``torch.save`` to a temporary file, then rename: never a half-written file."""
    missing = [key for key in KEYS[kind] if key not in payload]
    if missing:  # a bug in the writer, not a user error
        raise ValueError(f"{kind} checkpoint without {', '.join(missing)}")
    with atomic_path(path) as tmp:
        torch.save({**payload, "format": {"name": NAME, "version": VERSION, "kind": kind}}, tmp)


def save_model(
    path: str | os.PathLike[str],
    state_dict: dict[str, torch.Tensor],
    *,
    epoch: int,
    val_acc: float,
    info: dict[str, Any],
) -> None:
    """A model checkpoint: ``state_dict`` after ``epoch`` (validation accuracy
    ``val_acc``) and ``info``: arch, strategy, class_names, config, provenance,
    transform (crop_size, resize_size) and precision."""
    save_checkpoint(path, "model", {"state_dict": state_dict, "epoch": epoch,
                                    "val_acc": val_acc, **info})  # fmt: skip


def save_best_state(path: str | os.PathLike[str], model: nn.Module, epoch: int) -> None:
    """The weights of the best epoch so far (read back once training ends)."""
    save_checkpoint(path, "best", {"state_dict": plain_state_dict(model), "epoch": epoch})


def save_resume_state(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    progress: dict[str, Any],
    config_sha256: str,
) -> None:
    """The resumable state after an epoch (RNG state is re-derived per epoch, so none is
    kept); ``progress`` holds the history, one entry per completed epoch."""
    save_checkpoint(
        path,
        "resume",
        {
            "state_dict": plain_state_dict(model),
            "epoch": len(progress["history"]),
            "config_sha256": config_sha256,
            "progress": progress,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        },
    )


def _read(path: Path, fix: str) -> Any:
    """``torch.load`` with ``weights_only=True``, its failures as one line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise PipelineError(f"{path}: checkpoint not found; run training first") from None
    except Exception as err:  # torch raises many types for a damaged file
        if not zipfile.is_zipfile(path):  # every torch.save file is a zip archive
            why = "not a complete PyTorch file: truncated, corrupt or another format"
        elif isinstance(err, pickle.UnpicklingError):
            # torch's own text suggests weights_only=False: never for a file from elsewhere
            why = "it holds objects other than tensors and plain values: not written by train.py"
        else:
            why = f"damaged PyTorch file: {type(err).__name__}: {first_line(err)}"
    raise PipelineError(f"{path}: unreadable checkpoint ({why}); {fix}")


def _foreign(path: Path, kind: str, what: str) -> PipelineError:
    name, fix = DESCRIPTION[kind]
    return PipelineError(f"{path}: not a {name} of train.py ({what}); {fix}")


def load_checkpoint(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Read a checkpoint of ``kind`` (see :data:`KEYS`) and check that it is one.

    A version-0 model checkpoint (written before the ``format`` key) with every key is
    returned as version 1 would be; see the module docstring.
    """
    path = Path(path)
    name, fix = DESCRIPTION[kind]
    state = _read(path, fix if kind == "resume" else "delete it and retrain")
    if not isinstance(state, dict):
        raise _foreign(path, kind, f"it holds a {type(state).__name__}, not a dict")
    if state and all(isinstance(value, torch.Tensor) for value in state.values()):
        raise _foreign(path, kind, "a plain state dict: weights only")
    form = state.get("format")
    if form is None:
        version, found = 0, kind if "state_dict" in state else None
    elif isinstance(form, dict) and form.get("name") == NAME:
        version, found = form.get("version"), form.get("kind")
    else:
        raise _foreign(path, kind, f"format {form!r}")
    if not isinstance(version, int) or version > VERSION:
        raise PipelineError(
            f"{path}: {name} of checkpoint format version {version}, newer than this code "
            f"reads ({VERSION}); update the code or retrain"
        )
    if found != kind:
        if form is None:
            raise _foreign(path, kind, "no state_dict")
        raise _foreign(path, kind, f"a {DESCRIPTION[found][0]}" if found in DESCRIPTION
                       else f"kind {found!r}")  # fmt: skip
    if version == 0:
        if kind == "resume":
            raise PipelineError(f"{path}: {name} written before checkpoints were versioned; {fix}")
        state = {**LEGACY_DEFAULTS, **state} if kind == "model" else state
    missing = [key for key in KEYS[kind] if key not in state]
    if missing:
        raise _foreign(path, kind, f"no {', '.join(missing)}")
    return state


def load_resume_state(path: Path, config_sha256: str) -> dict[str, Any] | None:
    """The resumable state at ``path`` if there is one written with the same settings;
    None (training starts over) when there is none, or, with a warning, when it was
    written with other settings or cannot be used (unreadable, foreign, unversioned)."""
    if not path.exists():
        return None
    try:
        state = load_checkpoint(path, "resume")
    except PipelineError as err:  # the message ends "training starts over"
        log.warning("%s", err)
        return None
    if state["config_sha256"] != config_sha256:
        log.warning("ignoring %s: it was written with other settings; starting over", path)
        return None
    return state


def model_from_checkpoint(
    checkpoint: dict[str, Any], path: str | os.PathLike[str] = "checkpoint"
) -> nn.Module:
    """Rebuild the trained model of a model checkpoint (float32, on the CPU)."""
    model = build_model(checkpoint["arch"], len(checkpoint["class_names"]))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise PipelineError(
            f"{path}: its weights do not fit arch={checkpoint['arch']} with "
            f"{len(checkpoint['class_names'])} classes ({first_line(err)}); retrain it"
        ) from None
    return model
