"""Per-epoch metrics of one training run, written as it runs, in DVCLive's format.

After every epoch the run's live folder (``metrics/runs/<strategy>/seed<k>/live/``, a
declared output of the train step in both runners) holds ``metrics.json`` (the latest
epoch: ``step`` is the epoch number) and ``plots/metrics/<name>.tsv`` (one row per
epoch so far, ``step`` and the value) for :data:`FIELDS`. Under ``dvc exp run`` DVCLive
also sends each epoch to DVC Studio when it is configured (``dvc studio login``); the VS
Code extension and ``dvc plots show <live>/plots/metrics`` read the same files.

The files are rebuilt from the training history whenever a run starts: a resumed run
(train.py restores the history from ``checkpoints/.../last.pt``) first replays the epochs
it already has, so a killed and resumed run leaves exactly the files of an uninterrupted
one, whichever runner deleted the folder before the rerun. No timestamps are written,
so the files depend on the training only.

DVCLive writes nothing else: no ``dvc.yaml`` (``dvcyaml=None``; the pipeline declares
its own outputs) and no experiment of its own (``save_dvc_exp=False``; ``dvc exp run``
records the experiment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: What is logged per epoch, as train.py's history names it.
FIELDS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


class EpochLog:
    """A DVCLive logger of one run's epochs (``folder`` None: logs nothing)."""

    def __init__(self, folder: str | Path | None, history: Iterable[Mapping[str, Any]] = ()):
        self._live = None
        if folder is None:
            return
        from dvclive import Live  # imported only when a run logs (it imports dvc)

        # resume=False: start from an empty folder, then replay the history a resumed
        # run brings, so the files never hold epochs the checkpoint does not
        self._live = Live(str(folder), resume=False, dvcyaml=None, save_dvc_exp=False)
        for epoch in history:
            self.log(epoch)

    def log(self, epoch: Mapping[str, Any]) -> None:
        """Record one epoch (a row of train.py's history: ``epoch`` and :data:`FIELDS`)."""
        if self._live is None:
            return
        self._live.step = int(epoch["epoch"])
        for name in FIELDS:
            self._live.log_metric(name, float(epoch[name]))
        self._live.next_step()  # writes metrics.json (and posts to Studio when set up)

    def close(self) -> None:
        """Finish the log (DVCLive's ``end``: the summary, Studio's "done")."""
        if self._live is not None:
            self._live.end()
            self._live = None
