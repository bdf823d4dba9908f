#!/usr/bin/env bash
# Writes every export format into a temporary directory and reads it back with pyarrow.
# Needs python3 with pyarrow (pip install pyarrow); prints SKIPPED otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import pyarrow' 2>/dev/null; then
    echo "SKIPPED: pyarrow check (python3/pyarrow not installed)"
    exit 0
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
KODIAK_FIXTURE_DIR="$dir" cargo test --quiet --lib interchange::tests::pyarrow_fixture_to_env_dir >/dev/null
python3 scripts/check_pyarrow.py "$dir"
