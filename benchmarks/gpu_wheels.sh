#!/usr/bin/env bash
# Fetch (here, where the package index is reachable) the wheels benchmarks/gpu.sh needs that
# the device image lacks or holds at another version, into .whl/ (git-ignored), for the device
# tool to carry: `run` with carry [".whl"] and the command `bash benchmarks/gpu.sh` (or
# `... quick`). The image (Python 3.12) already has torch, tokenizers, sentence-transformers,
# huggingface-hub 1.33 (which transformers 5.24 fits and 5.25 does not), numpy, safetensors,
# tqdm, pathspec, grpcio, httpx, protobuf and portalocker.
# `bash benchmarks/gpu_wheels.sh quantized`: transformers and bitsandbytes alone, for
# `bash benchmarks/gpu.sh quantized` (bitsandbytes' 43 MB and the Qdrant wheels together are
# more than one run may carry).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = quantized ]; then
  WHEELS=(transformers==5.24.0 bitsandbytes)
else
  WHEELS=(transformers==5.24.0 "sentence-transformers>=6.2,<7" qdrant-edge-py==0.9.0
    "qdrant-client>=1.20,<2" "pydantic>=2.7" pydantic-core annotated-types typing-inspection
    typing-extensions)
fi
rm -rf .whl
mkdir .whl
python3 -m pip download --quiet --dest .whl --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  "${WHEELS[@]}"
du -sh .whl
ls .whl
