#!/usr/bin/env python
"""Export a checkpoint for use without this project: torch.export and ONNX, parity-checked.

    python workflow/scripts/export.py --model models/finetune/seed1/model.pt \\
        --data-dir data/hymenoptera_data --out-program exports/finetune/seed1/model.pt2 \\
        --out-onnx exports/finetune/seed1/model.onnx --out-report exports/finetune/seed1/export.json

``model.pt2`` is a ``torch.export`` program (``torch.export.load(path).module()``) and
``model.onnx`` the ONNX model of torch's dynamo exporter; both take a float32 batch of
any size, ``(N, 3, crop, crop)``, normalised as the checkpoint's ``transform`` says, and
return logits. Before anything is written, both run on the images of the dataset's
evaluation split (``test/``, else ``val/``) beside the eager model, in float32: every
image must get the same predicted class and logits within ``--atol`` (1e-3). An export
that fails is not written, and the message says by how much it differs.
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tlpipe.dataset import IMAGENET_MEAN, IMAGENET_STD
from tlpipe.errors import PipelineError
from tlpipe.fileio import atomic_path, write_json
from tlpipe.inference import evaluation_dataset, load_model
from tlpipe.runner import run_cli

log = logging.getLogger("export")
# the ONNX exporter reports every rewrite pass at INFO
for noisy in ("onnxscript", "onnx_ir"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
ATOL = 1e-3


def compare(name: str, reference: np.ndarray, candidate: np.ndarray, atol: float) -> dict[str, Any]:
    """How far ``candidate`` logits are from the eager ``reference``; raise if too far."""
    worst = float(np.abs(reference - candidate).max())
    flipped = int((reference.argmax(1) != candidate.argmax(1)).sum())
    if flipped or not worst <= atol:
        raise PipelineError(
            f"{name} export fails parity with the eager model on {len(reference)} images: "
            f"{flipped} predicted class(es) differ, max |logit difference| {worst:.3g} "
            f"(allowed {atol:g}); nothing written"
        )
    return {"max_abs_logit_difference": worst, "same_class": len(reference) - flipped}


def export_program(model: torch.nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` with a dynamic batch dimension."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    return torch.export.export(model, (example,), dynamic_shapes={"x": {0: batch}})


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """ONNX through the dynamo exporter, with a dynamic batch dimension."""
    program = torch.onnx.export(
        model, (example,), dynamo=True, input_names=["images"], output_names=["logits"],
        dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}},
        verbose=False,
    )  # fmt: skip
    program.save(str(path))


def onnx_logits(path: Path, images: torch.Tensor) -> np.ndarray:
    import onnxruntime  # imported here: only export needs it

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"images": images.numpy()})[0]


def export(args: argparse.Namespace) -> dict[str, Any]:
    """Export, check parity, then write the program, the ONNX model and the report."""
    tick = time.perf_counter()
    loaded = load_model(args.model)  # float32, contiguous, CPU
    model = loaded.model
    # the evaluation split's images as one float32 batch, prepared as for evaluation
    _, _, dataset = evaluation_dataset(loaded, args.data_dir)
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        eager = model(images).numpy()
    example = images[:2]
    program = export_program(model, example)
    with torch.no_grad():
        exported = program.module()(images).numpy()
    report = {"n_images": len(images), "atol": args.atol,
              "torch_export": compare("torch.export", eager, exported, args.atol)}  # fmt: skip
    with atomic_path(args.out_onnx) as onnx_tmp:
        export_onnx(model, example, onnx_tmp)
        report["onnx"] = compare("ONNX", eager, onnx_logits(onnx_tmp, images), args.atol)
        buffer = io.BytesIO()  # torch.export.save wants a .pt2 name or a buffer
        torch.export.save(program, buffer)
        with atomic_path(args.out_program) as program_tmp:
            program_tmp.write_bytes(buffer.getvalue())
    report.update(
        model=str(args.model), arch=loaded.info["arch"], class_names=loaded.class_names,
        input={"shape": ["N", 3, *images.shape[2:]], **loaded.transform,
               "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        seconds=round(time.perf_counter() - tick, 1),
    )  # fmt: skip
    write_json(args.out_report, report)
    log.info(
        "%s: exported; on %d images torch.export max |diff| %.2g, ONNX max |diff| %.2g, "
        "every class the same (%.0fs)",
        args.model, len(images), report["torch_export"]["max_abs_logit_difference"],
        report["onnx"]["max_abs_logit_difference"], report["seconds"],
    )  # fmt: skip
    return report


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, add_help=add_help, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--model", type=Path, required=True, help="checkpoint from train.py")
    add("--data-dir", type=Path, required=True, help="dataset whose images check parity")
    add("--out-program", type=Path, required=True, help="torch.export program to write (.pt2)")
    add("--out-onnx", type=Path, required=True, help="ONNX model to write (.onnx)")
    add("--out-report", type=Path, required=True, help="parity figures (JSON) to write")
    add("--atol", type=float, default=ATOL, help=f"largest |logit difference| (default: {ATOL})")
    add("--verbose", action="store_true", help="debug logging")
    return parser


def main(args: argparse.Namespace) -> None:
    export(args)


if __name__ == "__main__":
    run_cli(main, get_args_parser().parse_args())
