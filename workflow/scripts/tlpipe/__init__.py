"""Shared library of the transfer-learning pipeline.

The command-line scripts in ``workflow/scripts/`` are thin wrappers around these
modules, so Snakemake rules, DVC stages and tests all run the same code:

- :mod:`tlpipe.errors`: the one error type for input a user can fix;
- :mod:`tlpipe.runner`: how a script runs (logging, one ERROR line and exit 1);
- :mod:`tlpipe.fileio`: atomic writes, JSON, hashing and hash checks;
- :mod:`tlpipe.config`: config schema validation with defaults;
- :mod:`tlpipe.cli`: config settings as command-line options (the one mapping);
- :mod:`tlpipe.cpus`: the CPUs a job may use and the threads each job gets (no torch);
- :mod:`tlpipe.fetch`: resumable, verified downloads;
- :mod:`tlpipe.archive`: safe extraction of zip/tar archives (size, path and link checks);
- :mod:`tlpipe.layout`: ImageFolder layout checks and tree hashes (no torch);
- :mod:`tlpipe.dataset`: transforms and data loaders;
- :mod:`tlpipe.training_data`: what training reads (classes, training set, validation loader);
- :mod:`tlpipe.strategies`: the transfer-learning strategies, the one list (and resources);
- :mod:`tlpipe.architectures`: the supported torchvision architectures and their parts;
- :mod:`tlpipe.weights`: which ImageNet weights file belongs to an architecture, its hash;
- :mod:`tlpipe.model`: the device, model building, freezing by strategy, pretrained weights;
- :mod:`tlpipe.engine`: the training and evaluation loops (precision, threads, devices);
- :mod:`tlpipe.checkpoints`: the versioned checkpoint schema, its writers and its one reader;
- :mod:`tlpipe.live`: per-epoch metrics as training runs (DVCLive), for dvc exp run;
- :mod:`tlpipe.optim`: the optimiser and learning-rate schedule from the train settings;
- :mod:`tlpipe.inference`: checkpoint to model ready to predict, and the evaluation data;
- :mod:`tlpipe.provenance`: what produced a file (code, versions, data, weights);
- :mod:`tlpipe.deps`: the modules each script imports (what a step depends on);
- :mod:`tlpipe.paths`: the file names and path templates of a run's files;
- :mod:`tlpipe.runs`: where the runs (strategies x seeds) live, reading and checking them;

the report, in the order it runs:

- :mod:`tlpipe.stats`: the statistical tests and intervals;
- :mod:`tlpipe.comparison`: the paired comparison of the strategies (comparison.json);
- :mod:`tlpipe.verdict`: the verdict in words;
- :mod:`tlpipe.tables`: summary.csv and every table of the pages, number formatting;
- :mod:`tlpipe.figures`: every plot (the only matplotlib import) and the image thumbnails;
- :mod:`tlpipe.pages`: the comparison page, written once, rendered as HTML and Markdown;
- :mod:`tlpipe.markup`: values made safe for the Markdown pages;
- :mod:`tlpipe.dvc_views`: what DVC shows: metrics/metrics.json and the plots' data;
- :mod:`tlpipe.model_card`: a model card per strategy, with its loading snippet.
"""

__version__ = "0.1.0"
