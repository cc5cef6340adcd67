"""Shared library of the transfer-learning pipeline.

The command-line scripts in ``workflow/scripts/`` are thin wrappers around these
modules, so Snakemake rules, DVC stages and tests all run the same code:

- :mod:`tlpipe.fileio`: atomic writes, hashing, JSON output, logging set-up;
- :mod:`tlpipe.config`: config schema validation with defaults;
- :mod:`tlpipe.fetch`: resumable, verified downloads;
- :mod:`tlpipe.layout`: ImageFolder layout checks and tree hashes (no torch);
- :mod:`tlpipe.dataset`: transforms and data loaders;
- :mod:`tlpipe.training_data`: what training reads (classes, training set, validation loader);
- :mod:`tlpipe.model`: model building, strategies and pretrained weights;
- :mod:`tlpipe.checkpoints`: the versioned checkpoint schema, its writers and its one reader;
- :mod:`tlpipe.optim`: the optimiser and learning-rate schedule from the train settings;
- :mod:`tlpipe.inference`: checkpoint to model ready to predict, and the evaluation data;
- :mod:`tlpipe.provenance`: what produced a file (code, versions, data, weights);
- :mod:`tlpipe.deps`: the modules each script imports (what a step depends on).
"""

__version__ = "0.1.0"
