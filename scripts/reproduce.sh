#!/usr/bin/env bash
# Train configs/NAME.yaml with a seed, then metrics (JSON) and training curves: the shared
# body of scripts/reproduce_lcqmc.sh and scripts/reproduce_mrpc.sh.
#   scripts/reproduce.sh NAME SEED TEST_FILE [DEV_FILE]     -> runs/NAME-seed<SEED>/
# Writes wall_time.txt, test.json, test_errors.jsonl, curves.png and, with DEV_FILE,
# dev.json; without it the dev metrics are those training saved in metrics.json.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1 SEED=$2 TEST=$3 DEV=${4:-}
OUT=runs/$NAME-seed$SEED
. .venv/bin/activate 2>/dev/null || { scripts/install.sh && . .venv/bin/activate; }
start=$(date +%s)
dupdetect train --config "configs/$NAME.yaml" --out "$OUT" "train.seed=$SEED" train.progress=false
echo "train_wall_seconds=$(( $(date +%s) - start ))" | tee "$OUT/wall_time.txt"
if [ -n "$DEV" ]; then dupdetect evaluate "$OUT" "$DEV" --json > "$OUT/dev.json"; fi
dupdetect evaluate "$OUT" "$TEST" --json --errors "$OUT/test_errors.jsonl" > "$OUT/test.json"
dupdetect plot "$OUT"
python - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
dev_file = f"{out}/dev.json"
dev = json.load(open(dev_file)) if os.path.exists(dev_file) else json.load(open(f"{out}/metrics.json"))["dev"]
for split, m in (("dev", dev), ("test", json.load(open(f"{out}/test.json")))):
    print(f"{split}: accuracy {m['accuracy']:.4f}  f1 {m['f1']:.4f}  roc_auc {m['roc_auc']:.4f}  threshold {m['threshold']:.4f}")
PY
