#!/usr/bin/env bash
# Create .venv (if missing) and install dupdetect with its test, Chinese, plotting, ONNX and
# vectors (gensim) extras (CI runs the ONNX parity tests and the vectors script's tests).
# torch is pinned to the CPU wheel first: a bare `torch` requirement on an empty environment
# would pull a multi-GB CUDA build. On a CUDA machine, install your torch build before this.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet -e ".[dev,zh,plot,onnx,vectors]"
python -c "import dupdetect, torch; print(f'dupdetect {dupdetect.__version__}, torch {torch.__version__}')"
