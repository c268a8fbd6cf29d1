#!/usr/bin/env bash
# Reproduce the LCQMC row of docs/results.md: train configs/lcqmc.yaml (24,000 steps, about 45
# minutes on a 2-core CPU, 85-minute cap), then dev and test metrics (JSON) and the curves.
#   scripts/reproduce_lcqmc.sh [SEED]     -> runs/lcqmc-seed<SEED>/
exec "$(dirname "$0")/reproduce.sh" lcqmc "${1:-42}" ../shared/data/lcqmc/test.tsv ../shared/data/lcqmc/dev.tsv
