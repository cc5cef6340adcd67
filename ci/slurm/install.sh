#!/usr/bin/env bash
# Install the Debian packages needed for a local single-node SLURM cluster
# with accounting (slurmctld + slurmd + slurmdbd + MariaDB + munge).
#
# Extra Debian packages to install in the same way can be given as arguments
# (ci/install-debian-packages.sh adds the browser for the report test).
#
# Idempotent: if every package is already installed this returns in well under
# a second without touching apt. Must run as root (CI runs as root).
set -euo pipefail

PACKAGES=(
  slurm-wlm          # slurmctld + slurmd + slurm-client (sbatch, sacct, ...)
  slurm-client
  slurmdbd           # accounting daemon (pulls in slurm-wlm-mysql-plugin)
  munge              # authentication
  mariadb-server     # accounting storage for slurmdbd
  mariadb-client     # mariadb / mariadb-admin used by start.sh
  procps             # pgrep/ps used by start/stop
  util-linux         # flock, setsid
  coreutils          # timeout
  "$@"               # extra packages from the caller
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci/slurm/install.sh: all packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/slurm/install.sh: must run as root to install: ${missing[*]}" >&2
  exit 1
fi

echo "ci/slurm/install.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Do not let package maintainer scripts try to start services (there is no
# systemd here; start.sh starts the daemons itself). Only add a policy-rc.d
# if there is none, and remove only the one we added.
POLICY=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then rm -f "$POLICY"; fi; }
trap cleanup EXIT

APT_OPTS=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Try without refreshing the package lists first (fast when the lists are
# present); fall back to apt-get update on a clean machine / stale lists.
if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}"; then
  echo "ci/slurm/install.sh: install failed with current package lists; running apt-get update and retrying"
  apt-get update -q
  apt-get install "${APT_OPTS[@]}" "${missing[@]}"
fi

echo "ci/slurm/install.sh: done"
