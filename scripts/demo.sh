#!/usr/bin/env bash
# The main job end to end on LCQMC from ../shared/data: install, make the recipe's character
# vectors from the training texts (once, 40 s), train (a short time budget, MINUTES, default
# 5), evaluate on the test split, and predict for two sentences.
#   scripts/demo.sh            # or: MINUTES=90 scripts/demo.sh for a full run
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-5}
OUT=${OUT:-runs/lcqmc-demo}
scripts/install.sh
. .venv/bin/activate
set -x
scripts/lcqmc_vectors.sh
dupdetect train --config configs/lcqmc.yaml --out "$OUT" "train.max_minutes=$MINUTES"
dupdetect evaluate "$OUT" ../shared/data/lcqmc/test.tsv
dupdetect predict "$OUT" "我手机丢了，我想换个手机" "我想买个新手机，求推荐"
dupdetect predict "$OUT" "英雄联盟什么英雄最好" "英雄联盟最好英雄是什么"
