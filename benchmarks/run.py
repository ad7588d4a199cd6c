"""Run every benchmark and print (and optionally write) one Markdown report.

python benchmarks/run.py                    # CPU, shallow models (minutes on 2 cores)
python benchmarks/run.py --gpu --out DIR    # the GPU profile (see gpu.sh)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_convert
import bench_documents
import bench_hybrid
import bench_ingest
import bench_legacy
import bench_long_span
import bench_prepare
import bench_quantized
import bench_queries
import bench_serve
import bench_splitter
import bench_stores
import bench_vectorstore
from _common import table

CPU = {
    "documents": [
        "--shapes",
        "harrier-270m,harrier-0.6b",
        "--layers",
        "2",
        "--texts",
        "32",
        "--profile",
    ],
    "queries": [
        "--shapes",
        "harrier-270m,harrier-0.6b",
        "--layers",
        "2",
        "--queries",
        "200",
        "--latency-queries",
        "20",
        "--profile",
    ],
    "long span": ["--layers", "1", "--tokens", "32000"],
    "ingestion": ["--layers", "2", "--documents", "48"],
    "splitter": [],
    "prepare": [],
    "stores": ["--sizes", "10000", "--documents", "100"],
    "conversion": ["--pages", "200", "--layers", "2"],
    "legacy office": ["--files", "48"],
    "serving": [
        "--shapes",
        "harrier-270m",
        "--layers",
        "2",
        "--clients",
        "64",
        "--requests",
        "640",
        "--overload-seconds",
        "30",
    ],
    "hybrid": ["--layers", "2", "--documents", "48", "--spans", "100000"],
    "serving attack": [
        "--shapes",
        "harrier-270m",
        "--layers",
        "2",
        "--attack",
        "--attack-mb",
        "10,4",
    ],
    "quantized": ["--layers", "2", "--texts", "16"],
    "vector stores": ["--layers", "2", "--texts", "2000", "--spans", "100000"],
}
GPU_CORPUS = ["--layers", "0", "--documents", "256", "--span-tokens", "4096", "--device", "cuda"]
"""The corpus the ingestion and hybrid runs both embed on a GPU."""
GPU = {
    "documents": [
        "--shapes",
        "harrier-270m,harrier-0.6b",
        "--layers",
        "0",
        "--texts",
        "256",
        "--device",
        "cuda",
        "--profile",
        "--compile-shapes",
        "harrier-0.6b",
    ],
    "queries": [
        "--shapes",
        "harrier-270m,harrier-0.6b",
        "--layers",
        "0",
        "--queries",
        "2000",
        "--latency-queries",
        "100",
        "--device",
        "cuda",
        "--profile",
    ],
    "long span": ["--layers", "0", "--tokens", "32000", "--device", "cuda"],
    "ingestion": [*GPU_CORPUS, "--edge-only", "--runs", "3", "--steady-documents", "1024"],
    "splitter": [],
    "prepare": ["--device", "cuda", "--engine-texts", "256", "--files", "6000"],
    "stores": ["--sizes", "10000,100000", "--stores", "edge", "--device", "cuda"],
    "conversion": ["--pages", "500", "--layers", "0", "--embed-pages", "200", "--device", "cuda"],
    "serving": [
        "--shapes",
        "harrier-270m,harrier-0.6b",
        "--layers",
        "0",
        "--device",
        "cuda",
        "--clients",
        "64",
        "--requests",
        "6400",
        "--overload-seconds",
        "30",
    ],
    "serving attack": [
        "--shapes",
        "harrier-270m",
        "--layers",
        "0",
        "--device",
        "cuda",
        "--attack",
        "--attack-mb",
        "10,4",
    ],
    "hybrid": [*GPU_CORPUS, "--spans", "100000"],
    "vector stores": ["--layers", "0", "--device", "cuda", "--texts", "2000", "--spans", "100000"],
    "quantized": ["--layers", "0", "--texts", "256", "--device", "cuda"],
}
MODULES = {
    "documents": bench_documents,
    "queries": bench_queries,
    "long span": bench_long_span,
    "ingestion": bench_ingest,
    "splitter": bench_splitter,
    "prepare": bench_prepare,
    "conversion": bench_convert,
    "legacy office": bench_legacy,
    "serving": bench_serve,
    "serving attack": bench_serve,
    "stores": bench_stores,
    "hybrid": bench_hybrid,
    "quantized": bench_quantized,
    "vector stores": bench_vectorstore,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpu", action="store_true", help="full-depth models on CUDA, bf16")
    parser.add_argument("--only", help=f"comma list of {', '.join(MODULES)}")
    parser.add_argument("--skip", default="", help="comma list of benchmarks not to run")
    parser.add_argument("--out", help="folder to write report.md into")
    args = parser.parse_args()
    import torch

    profile = GPU if args.gpu else CPU
    device = torch.cuda.get_device_name(0) if args.gpu else platform.processor() or "cpu"
    lines = [
        f"# harrier-suite benchmarks ({'GPU' if args.gpu else 'CPU'})",
        "",
        f"machine: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}",
        "",
    ]
    for name, module in MODULES.items():
        if (args.only and name not in args.only.split(",")) or name in args.skip.split(","):
            continue
        if name not in profile:  # LibreOffice's conversion is measured on the CPU profile only
            continue
        started = time.perf_counter()
        rows = module.main(profile[name])
        lines += [f"## {name} ({time.perf_counter() - started:.0f} s)", "", table(rows), ""]
        report = "\n".join(lines)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            Path(args.out, "report.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
