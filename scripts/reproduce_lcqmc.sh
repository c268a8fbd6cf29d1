#!/usr/bin/env bash
# Reproduce the LCQMC row of docs/results.md: train configs/lcqmc.yaml (85-minute budget on a
# 2-core CPU), then dev and test metrics (JSON) and the training curves.
#   scripts/reproduce_lcqmc.sh [SEED]     -> runs/lcqmc-seed<SEED>/
exec "$(dirname "$0")/reproduce.sh" lcqmc "${1:-42}" ../shared/data/lcqmc/test.tsv ../shared/data/lcqmc/dev.tsv
