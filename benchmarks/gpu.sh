#!/usr/bin/env bash
# The GPU benchmark, one prepared run on one H100/H200, under 9 minutes: full-depth random
# models of the Harrier-270m and 0.6b shapes, bf16.
#   1. GPU tests (tests/core/test_gpu.py): fidelity, packed vs padded, CUDA graphs vs plain.
#   2. documents: harrier packed (and, on the 0.6b shape, packed with compile=True) vs padded
#      vs sentence-transformers (tok/s, MFU, padding of each batch plan, max differences, where
#      the device time goes: busy share, kernels per batch, matmul / attention / element-wise
#      shares, the longest kernels); queries: throughput and batch-1 p50/p90 latency (plain,
#      prefix cache, CUDA graphs, graphs of the torch.compile-fused forward,
#      sentence-transformers; harrier's with busy share and kernels per query); harrier ingest
#      into Qdrant Edge vs embedding alone on the 270m shape (best of 3 each, with where the
#      time beyond embedding goes).
# `bash benchmarks/gpu.sh quick` (about 5 minutes): only the packing and graph GPU tests, then
# queries and ingestion. `bash benchmarks/gpu.sh quantized` (about 2 minutes): 8-/4-bit weights
# vs bf16 (cosine parity), with the wheels `benchmarks/gpu_wheels.sh quantized` fetches
# (bitsandbytes and the Qdrant wheels together are more than one run may carry).
# Writes OUT/report.md (OUT defaults to ./out). Needs the project importable: either installed,
# or wheels carried in .whl/ (transformers 5.24, sentence-transformers, qdrant-edge...), which
# benchmarks/gpu_wheels.sh fetches where the package index is reachable.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
MODE=${1:-full}
mkdir -p "$OUT"
started=$(date +%s)
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
python3 - <<'EOF' | tee -a "$OUT/gpu.txt"
import inspect, torch, transformers, sentence_transformers as st
from harrier._packing import varlen_available
print("torch", torch.__version__, "transformers", transformers.__version__,
      "sentence-transformers", st.__version__)
print("varlen flash attention with windows:", varlen_available())
try:
    from torch.nn.attention.varlen import varlen_attn
    print("varlen_attn", inspect.signature(varlen_attn))
except ImportError as exc:
    print("no varlen_attn:", exc)
EOF
if [ "$MODE" = quick ]; then
  TESTS=(-k "packed or packs or graphs") BENCH=queries,ingestion LIMIT=(60 320)
elif [ "$MODE" = quantized ]; then
  TESTS=(-k "bfloat16") BENCH=quantized LIMIT=(60 150)
else
  TESTS=() BENCH=documents,queries,ingestion LIMIT=(150 385)
fi
timeout "${LIMIT[0]}" python3 -m pytest tests/core/test_gpu.py -m gpu -q -p no:cacheprovider \
  -o addopts="" -p no:randomly ${TESTS[@]+"${TESTS[@]}"} 2>&1 | grep -v -E "Loading weights|Writing model" \
  | tail -25 | tee "$OUT/gpu-tests.txt"
timeout "${LIMIT[1]}" python3 benchmarks/run.py --gpu --only "$BENCH" --out "$OUT" 2>&1 \
  | grep -v -E "Loading weights|Writing model|Batches:" | tee "$OUT/log.txt"
echo "gpu.sh: $(( $(date +%s) - started )) s" | tee -a "$OUT/gpu.txt"
