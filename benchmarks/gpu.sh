#!/usr/bin/env bash
# The GPU benchmark, one prepared run: full-depth Harrier-270m and 0.6b shapes, bf16, SDPA
# (flash attention when installed), on one H100/H200, in under 8 minutes.
# Writes OUT/report.md (OUT defaults to ./out). Needs the project importable: either installed,
# or wheels carried in .whl/ (transformers 5.24, sentence-transformers 6.2, qdrant-client...).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/core:$PWD/integrations/langchain:$PWD/integrations/llamaindex:$PWD/integrations/qdrant:$PWD/integrations/milvus:${PYTHONPATH:-}"
# TOKENIZERS_PARALLELISM stays unset: the prepare stage spreads over the cores through the fast
# tokenizer's thread pool (set to false, ingestion here ran at 0.40x of embedding alone).
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, sentence_transformers as st; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', st.__version__)" | tee -a "$OUT/gpu.txt"
python3 -m pytest tests/core/test_gpu.py -m gpu -q -p no:cacheprovider -o addopts="" 2>&1 \
  | grep -v -E "Loading weights|Writing model" | tail -15 | tee "$OUT/gpu-tests.txt" || true
timeout 420 python3 benchmarks/run.py --gpu --skip serving --out "$OUT" 2>&1 | grep -v -E "Loading weights|Writing model|Batches:" | tee "$OUT/log.txt"
# harrier serve under load (servers in subprocesses; needs fastapi, uvicorn, prometheus-client)
timeout 360 python3 benchmarks/run.py --gpu --only serving --out "$OUT/serving" 2>&1 | grep -v -E "Loading weights|Writing model|Batches:" | tee "$OUT/serving-log.txt"
