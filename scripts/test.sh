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
# The AWS SDK for JavaScript the end-to-end suite drives Ignis with (tests/js, pinned by its
# package-lock.json): `npm ci` only when the lock file differs from the one last installed.
if command -v npm >/dev/null 2>&1 \
    && ! cmp -s tests/js/package-lock.json tests/js/node_modules/.installed-lock.json; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error \
        && cp package-lock.json node_modules/.installed-lock.json)
fi

cargo build --workspace --bins
cargo test --workspace
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
IGNIS_BIN="$target_dir/debug/ignis" .venv/bin/python -m pytest tests -q "$@"
