#!/usr/bin/env bash
# Make runs/lcqmc-w2v.txt, the character vectors configs/lcqmc.yaml names, unless it exists:
# skip-gram on LCQMC's training texts only (scripts/skipgram_vectors.py; 40 s on 2 cores;
# installs the [vectors] extra, gensim, if missing). Run inside the project's .venv
# (scripts/demo.sh and scripts/reproduce_lcqmc.sh call it).
set -euo pipefail
cd "$(dirname "$0")/.."
VECTORS=runs/lcqmc-w2v.txt     # the path configs/lcqmc.yaml names
[ -s "$VECTORS" ] && exit 0
python -c "import gensim" 2>/dev/null || python -m pip install --quiet -e ".[vectors]"
python scripts/skipgram_vectors.py --config configs/lcqmc.yaml -o "$VECTORS"
