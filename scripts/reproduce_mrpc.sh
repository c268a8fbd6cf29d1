#!/usr/bin/env bash
# Reproduce the MRPC row of docs/results.md: train configs/mrpc.yaml (about 3 minutes on a
# 2-core CPU; dev = a seeded 10% of train), then test metrics (JSON) and the training curves.
#   scripts/reproduce_mrpc.sh [SEED]     -> runs/mrpc-seed<SEED>/
exec "$(dirname "$0")/reproduce.sh" mrpc "${1:-42}" ../shared/data/mrpc/msr_paraphrase_test.txt
