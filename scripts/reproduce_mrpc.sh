#!/usr/bin/env bash
# Reproduce the MRPC row of docs/results.md: train configs/mrpc.yaml (about 3 minutes on a
# 2-core CPU; dev = a seeded 10% of train), then test metrics (JSON) and the training curves.
#   scripts/reproduce_mrpc.sh [SEED]     -> runs/mrpc-seed<SEED>/
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-42}
OUT=runs/mrpc-seed$SEED
. .venv/bin/activate 2>/dev/null || { scripts/install.sh && . .venv/bin/activate; }
start=$(date +%s)
dupdetect train --config configs/mrpc.yaml --out "$OUT" "train.seed=$SEED" train.progress=false
echo "train_wall_seconds=$(( $(date +%s) - start ))" | tee "$OUT/wall_time.txt"
dupdetect evaluate "$OUT" ../shared/data/mrpc/msr_paraphrase_test.txt --json > "$OUT/test.json"
dupdetect plot "$OUT"
python - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
dev = json.load(open(f"{out}/metrics.json"))["dev"]
test = json.load(open(f"{out}/test.json"))
for split, m in (("dev", dev), ("test", test)):
    print(f"{split}: accuracy {m['accuracy']:.4f}  f1 {m['f1']:.4f}  roc_auc {m['roc_auc']:.4f}  threshold {m['threshold']:.4f}")
PY
