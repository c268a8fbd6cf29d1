#!/usr/bin/env bash
# Reproduce the LCQMC row of docs/results.md: make the skip-gram character vectors the recipe
# starts from (once, 40 s; trained on LCQMC's training texts only, the same file every time;
# needs the [vectors] extra, which scripts/install.sh installs), train configs/lcqmc.yaml
# (24,000 steps, 30-49 minutes on 2-core Intel Xeons, 43 on a Zen 5, 85-minute cap), then
# dev and test metrics (JSON) and the curves.
#   scripts/reproduce_lcqmc.sh [SEED]     -> runs/lcqmc-seed<SEED>/
# Without the vectors: dupdetect train --config configs/lcqmc.yaml --out DIR train.vectors=null.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate 2>/dev/null || { scripts/install.sh && . .venv/bin/activate; }
scripts/lcqmc_vectors.sh
exec scripts/reproduce.sh lcqmc "${1:-42}" ../shared/data/lcqmc/test.tsv ../shared/data/lcqmc/dev.tsv
