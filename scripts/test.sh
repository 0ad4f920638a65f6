#!/usr/bin/env bash
# Runs every test of Ignis: the Rust unit and integration tests, then the end-to-end suite that
# starts the real `ignis` binary and drives it with boto3 and the AWS CLI.
# Needs only the Rust toolchain and Python 3 with pip; the Python clients go into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export PATH="$PWD/.venv/bin:$PATH"

cargo build --workspace --bins
cargo test --workspace
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
IGNIS_BIN="$target_dir/debug/ignis" .venv/bin/python -m pytest tests -q "$@"
