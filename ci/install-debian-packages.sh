#!/usr/bin/env bash
# Debian packages for the tests that need more than Python (CI calls this from .ci/run,
# before `make test`):
#   - a single-node SLURM cluster with accounting, for tests/test_slurm.py (the test
#     starts the cluster itself with ci/slurm/start.sh);
#   - headless Chromium and a font, for the browser test of the HTML report.
# Idempotent: when everything is installed it returns at once without touching apt.
# Installing needs root (the tests that need these packages skip cleanly without them).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/slurm/install.sh chromium fonts-dejavu-core
