"""Ray Data ingestion on one machine: single-process ingestion vs 1..N embedding actors, and the
write throughput of the Milvus server alone (upserting pre-computed records).

    python benchmarks/bench_ray.py                          # starts the bundled Milvus 2.3.5
    MILVUS_TOKEN=root:Milvus python benchmarks/bench_ray.py --milvus http://127.0.0.1:19530

Each Ray configuration runs twice, on a 2-document corpus (start-up: actors load the model) and
on the full corpus; "steady tok/s" divides the full run's tokens by the difference in time.
Each case waits for a quiet machine; "others (cores)" is the CPU that processes outside the
benchmark used meanwhile (0 means the numbers are clean). The numbers in docs/ray.md come from
``--documents 192 --batch-size 4`` on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import corpus, model_folder, table

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = (
    "case",
    "spans",
    "tokens",
    "seconds",
    "tok/s",
    "start-up s",
    "steady tok/s",
    "spans/s",
    "others (cores)",
)


class Others:
    """Waits (up to ``wait`` s) for a quiet machine, then measures the CPU, in cores, that
    processes outside this benchmark's process tree use meanwhile (Linux ``/proc``)."""

    def __init__(self, wait: float = 300.0) -> None:
        deadline = time.monotonic() + wait
        while os.getloadavg()[0] >= 0.6 and time.monotonic() < deadline:
            time.sleep(5)
        self.cores = 0.0

    def __enter__(self) -> Others:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        seen: dict[int, float] = {}
        _mine(seen)
        busy, mine, started = _busy(), 0.0, time.monotonic()
        while not self._stop.wait(0.5):
            mine += _mine(seen)
        mine += _mine(seen)
        elapsed = max(time.monotonic() - started, 1e-9)
        self.cores = round(max(_busy() - busy - mine, 0.0) / elapsed, 2)


def _mine(seen: dict[int, float]) -> float:
    """CPU seconds this process and its descendants used since the last call."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        procs[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, used = {os.getpid()}, 0.0
    for _ in range(8):  # descendants, a few levels deep (Ray: driver > raylet > workers)
        tree |= {pid for pid, (parent, _) in procs.items() if parent in tree}
    for pid in tree & procs.keys():
        used += procs[pid][1] - seen.get(pid, 0.0)
        seen[pid] = procs[pid][1]
    return used


def _busy() -> float:
    """CPU seconds all processes used since boot."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def drop(uri: str, collection: str) -> None:
    from harrier_milvus import MilvusStore

    store = MilvusStore(collection, url=uri)
    store.client.drop_collection(collection)
    store.close()


@contextmanager
def milvus_server(uri: str | None) -> Iterator[str]:
    """The server at ``uri``, or the bundled 2.3.5 one started as the tests start it."""
    if uri:
        yield uri
        return
    spec = importlib.util.spec_from_file_location(
        "milvus_conftest", ROOT / "tests" / "milvus" / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    base = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    server = module._standalone(base)
    started = next(server)
    os.environ.setdefault("MILVUS_TOKEN", started.token)
    try:
        yield started.uri
    finally:
        for _ in server:  # runs the generator's cleanup: stops the server
            pass
        shutil.rmtree(base, ignore_errors=True)


def single_rows(engine, docs, spans, uri: str, span_tokens: int) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Embedding alone, then ``harrier.ingest`` into the server, with 1 and all torch threads."""
    import torch

    import harrier
    from harrier_milvus import MilvusStore

    rows: list[dict[str, object]] = []
    tokens = sum(s.token_count for s in spans)
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        with Others() as others:
            started = time.perf_counter()
            engine.embed_documents([s.text for s in spans])
            seconds = time.perf_counter() - started
        rows.append(
            {
                "case": f"embedding only, {threads} torch thread(s)",
                "spans": len(spans),
                "tokens": tokens,
                "seconds": seconds,
                "tok/s": tokens / seconds,
                "spans/s": len(spans) / seconds,
                "others (cores)": others.cores,
            }
        )
        store = MilvusStore(f"bench_{uuid.uuid4().hex[:8]}", url=uri)
        with Others() as others:
            report = harrier.ingest(docs, store, engine, max_tokens=span_tokens)
        store.close()
        drop(uri, store.collection)
        rows.append(
            {
                "case": f"single process, {threads} torch thread(s)",
                "spans": report.spans_written,
                "tokens": report.tokens,
                "seconds": report.seconds,
                "tok/s": report.tokens_per_second,
                "spans/s": report.spans_written / report.seconds,
                "others (cores)": others.cores,
            }
        )
    return rows


def ray_rows(docs, folder: Path, uri: str, args: argparse.Namespace) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """``ingest_on_ray`` with each actor count: a 2-document run (start-up), then the corpus."""
    import ray

    from harrier.ingestion.ray import ingest_on_ray

    cores = os.cpu_count() or 1
    rows: list[dict[str, object]] = []
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="hr-", dir="/tmp")  # Ray's socket paths must stay short
    ray.init(num_cpus=cores, include_dashboard=False, _temp_dir=temp, log_to_driver=False)
    try:
        for actors in (int(a) for a in args.actors.split(",")):
            cpus = min(1.0, (cores - 0.5) / actors)  # leaves room for prepare and write
            seconds = {}
            for name, source in (("start", docs[:2]), ("full", docs)):
                collection = f"bench_{uuid.uuid4().hex[:8]}"
                with Others() as others:
                    report = ingest_on_ray(
                        source,
                        f"milvus:{uri}",
                        collection,
                        folder,
                        max_tokens=args.span_tokens,
                        actors=actors,
                        cpus_per_actor=cpus,
                        num_gpus_per_actor=args.gpus_per_actor,
                        batch_size=args.batch_size,
                        device=args.device,
                    )
                seconds[name] = report.seconds
                drop(uri, collection)
            steady = report.tokens / max(seconds["full"] - seconds["start"], 1e-9)
            rows.append(
                {
                    "case": f"Ray, {actors} actor(s) x {cpus:g} CPU",
                    "spans": report.spans_written,
                    "tokens": report.tokens,
                    "seconds": report.seconds,
                    "tok/s": report.tokens_per_second,
                    "start-up s": seconds["start"],
                    "steady tok/s": steady,
                    "spans/s": report.spans_written / report.seconds,
                    "others (cores)": others.cores,
                }
            )
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    return rows


def write_rows(spans, dimension: int, model: str, uri: str, count: int) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Pre-computed records (the corpus' spans repeated under new ids, random unit vectors)."""
    import harrier

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        harrier.SpanRecord(
            id=harrier.span_id("w", i),
            vector=vectors[i],
            text=s.text,
            doc_id=f"w{i // 8}",
            span_index=i % 8,
            span_count=8,
            start=s.start,
            end=s.end,
            token_count=s.token_count,
            doc_hash="0" * 64,
            model=model,
            metadata={"i": i},
        )
        for i, s in zip(range(count), itertools.cycle(spans))
    ]
    return [write_only(uri, records, writers) for writers in (1, 2)]


def write_only(uri: str, records: list, writers: int) -> dict[str, object]:  # type: ignore[type-arg]
    """Upsert records in the store's own batches from ``writers`` threads, until a strong count
    sees every one."""
    import harrier
    from harrier_milvus import MilvusStore

    name = f"bench_{uuid.uuid4().hex[:8]}"
    stores = [MilvusStore(name, url=uri) for _ in range(writers)]
    stores[0].ensure_collection(
        harrier.ModelIdentity(records[0].model, None), records[0].vector.shape[0]
    )
    size = stores[0].max_batch_count
    batches = [records[i : i + size] for i in range(0, len(records), size)]

    def run(store: MilvusStore, mine: list) -> None:  # type: ignore[type-arg]
        for batch in mine:
            store.upsert(batch)

    threads = [
        threading.Thread(target=run, args=(s, batches[i::writers])) for i, s in enumerate(stores)
    ]
    with Others() as others:
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert stores[0].count() == len(records)
        seconds = time.perf_counter() - started
    for store in stores:
        store.close()
    drop(uri, name)
    tokens = sum(r.token_count for r in records)
    return {
        "case": f"Milvus upsert only, {writers} writer(s)",
        "spans": len(records),
        "tokens": tokens,
        "seconds": seconds,
        "tok/s": tokens / seconds,
        "spans/s": len(records) / seconds,
        "others (cores)": others.cores,
    }


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--documents", type=int, default=96)
    parser.add_argument("--min-tokens", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=2048)
    parser.add_argument("--span-tokens", type=int, default=512)
    parser.add_argument("--actors", default="1,2", help="comma-separated actor counts")
    parser.add_argument("--batch-size", type=int, default=8, help="documents per Ray block")
    parser.add_argument("--gpus-per-actor", type=float, default=0.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write-records", type=int, default=20_000)
    parser.add_argument("--cases", default="single,ray,write", help="which parts to run")
    parser.add_argument("--milvus", help="server URI (default: start the bundled one)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    args = parser.parse_args(argv)

    import harrier

    cases = set(args.cases.split(","))
    folder = model_folder(Path(args.cache), args.shape, args.layers or None)
    engine = harrier.Embedder.from_pretrained(folder, device=args.device)
    texts = corpus(engine.tokenizer, args.documents, args.min_tokens, args.max_tokens, seed=3)
    docs = [harrier.SourceDocument(f"doc-{i}", t, {"i": i}) for i, t in enumerate(texts)]
    spans = [s for t in texts for s in harrier.split_spans(t, engine, max_tokens=args.span_tokens)]
    engine.embed_documents([s.text for s in spans[:2]])  # warm-up
    with milvus_server(args.milvus) as uri:
        rows = single_rows(engine, docs, spans, uri, args.span_tokens) if "single" in cases else []
        rows += ray_rows(docs, folder, uri, args) if "ray" in cases else []
        if "write" in cases:
            rows += write_rows(spans, engine.dimension, str(folder), uri, args.write_records)
    print(
        f"model {args.shape} with {args.layers or 'all'} layers on {args.device}, "
        f"{os.cpu_count()} cores, spans of <= {args.span_tokens} tokens"
    )
    print(table([{key: row.get(key, "") for key in COLUMNS} for row in rows]))
    return rows


if __name__ == "__main__":
    main()
