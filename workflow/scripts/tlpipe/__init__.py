"""Shared library of the transfer-learning pipeline.

The command-line scripts in ``workflow/scripts/`` are thin wrappers around these
modules, so Snakemake rules, DVC stages and tests all run the same code:

- :mod:`tlpipe.fileio`: atomic writes, hashing, JSON output, logging set-up;
- :mod:`tlpipe.config`: config schema validation with defaults;
- :mod:`tlpipe.fetch`: resumable, verified downloads;
- :mod:`tlpipe.archive`: safe extraction of zip/tar archives (size, path and link checks);
- :mod:`tlpipe.layout`: ImageFolder layout checks and tree hashes (no torch);
- :mod:`tlpipe.dataset`: transforms and data loaders;
- :mod:`tlpipe.model`: model building, strategies, weights and checkpoint I/O;
- :mod:`tlpipe.provenance`: what produced a file (code, versions, data, weights);
- :mod:`tlpipe.deps`: the modules each script imports (what a step depends on).
"""

__version__ = "0.1.0"
