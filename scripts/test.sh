#!/usr/bin/env bash
# Install everything (scripts/install.sh) and run the whole test suite, lint included.
# The real-data tests read ../shared/data; outside CI they skip when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. .venv/bin/activate
ruff format --check .
ruff check .
python -m pytest -q "$@"
