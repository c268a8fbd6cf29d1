#!/usr/bin/env bash
# Reproduce the LCQMC row of docs/results.md: train configs/lcqmc.yaml (85-minute budget on a
# 2-core CPU), then dev and test metrics (JSON) and the training curves.
#   scripts/reproduce_lcqmc.sh [SEED]     -> runs/lcqmc-seed<SEED>/
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-42}
OUT=runs/lcqmc-seed$SEED
. .venv/bin/activate 2>/dev/null || { scripts/install.sh && . .venv/bin/activate; }
start=$(date +%s)
dupdetect train --config configs/lcqmc.yaml --out "$OUT" "train.seed=$SEED" train.progress=false
echo "train_wall_seconds=$(( $(date +%s) - start ))" | tee "$OUT/wall_time.txt"
dupdetect evaluate "$OUT" ../shared/data/lcqmc/dev.tsv --json > "$OUT/dev.json"
dupdetect evaluate "$OUT" ../shared/data/lcqmc/test.tsv --json --errors "$OUT/test_errors.jsonl" > "$OUT/test.json"
dupdetect plot "$OUT"
python - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
for split in ("dev", "test"):
    m = json.load(open(f"{out}/{split}.json"))
    print(f"{split}: accuracy {m['accuracy']:.4f}  f1 {m['f1']:.4f}  roc_auc {m['roc_auc']:.4f}  threshold {m['threshold']:.4f}")
PY
