#!/usr/bin/env bash
# One command to get a running gateway: installs packages, builds, starts sluiced with its
# embedded defaults (SQLite + a local data folder, a generated access key, 127.0.0.1:4567).
# Extra arguments go to sluiced (see `build/gateway/sluiced --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec build/gateway/sluiced "$@"
