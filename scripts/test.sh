#!/usr/bin/env bash
# Runs every test of Ignis: the Rust unit and integration tests, then the end-to-end suite that
# starts the real `ignis` binary and drives it with boto3 and the AWS CLI.
# Needs the Rust toolchain, Python 3 with pip and Node.js with npm; the Python clients go into
# ./.venv, the JavaScript SDK into tests/js/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export PATH="$PWD/.venv/bin:$PATH"
# The AWS SDK for JavaScript v3, for the end-to-end suite (once per lock file).
if command -v npm >/dev/null 2>&1 && [ ! tests/js/node_modules/.package-lock.json -nt tests/js/package-lock.json ]; then
    (cd tests/js && npm ci --no-audit --no-fund --silent)
fi

cargo build --workspace --bins
cargo test --workspace
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
IGNIS_BIN="$target_dir/debug/ignis" .venv/bin/python -m pytest tests -q "$@"
