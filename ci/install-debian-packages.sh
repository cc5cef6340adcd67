#!/usr/bin/env bash
# Debian packages for the tests that need more than Python (CI calls this from .ci/run,
# before `make test`):
#   - a single-node SLURM cluster with accounting, for tests/test_slurm.py
#     (ci/slurm/install.sh; the test starts the cluster itself with ci/slurm/start.sh);
#   - headless Chromium and a font, for the browser test of the HTML report.
# Idempotent: when everything is installed it returns at once without touching apt.
# Installing needs root; without root it exits 1 naming what is missing (the tests that
# need those packages skip cleanly when they are absent).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/slurm/install.sh

BROWSER_PACKAGES=(chromium fonts-dejavu-core)
missing=()
for p in "${BROWSER_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci/install-debian-packages.sh: browser packages already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ci/install-debian-packages.sh: not root, cannot install: ${missing[*]}" >&2
  exit 1
fi

echo "ci/install-debian-packages.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q --no-install-recommends)
# Without refreshing the package lists first (fast when they are present); with a fresh
# `apt-get update` when that fails (clean machine, stale lists).
if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}"; then
  echo "ci/install-debian-packages.sh: retrying after apt-get update"
  apt-get update -q
  apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi
echo "ci/install-debian-packages.sh: done"
