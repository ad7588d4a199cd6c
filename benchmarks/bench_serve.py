"""`harrier serve` under load, on loopback: cross-request batching vs one request at a time vs
a plain FastAPI endpoint calling ``SentenceTransformer.encode`` per request; then 10x overload.

Each server runs in its own process, one after the other, on the same random model. The load
generator is a bounded set of keep-alive HTTP/1.1 connections (asyncio, no client library), each
sending single queries back to back. Overload: 10x as many clients for ``--overload-seconds``,
backing off 20 ms after a 429/503, while a probe asks ``/health`` every 100 ms.

``--attack`` (alone): over-limit requests against one ``harrier serve``. First a client's single
queries unloaded (its p50); then ``--attack-senders`` connections send 10 MB single-string
bodies back to back for ``--attack-seconds`` while the same client keeps querying. Printed: the
loaded p50 over the unloaded one (target <= 2x), each refusal's time from the body's last byte
written to the answer (seen by the sender: it includes waiting behind the other senders), the
share the server answered within 50 ms of their headers (its own latency histogram; target
all), and the server's resident memory after the burst over before it (target within 15%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import corpus, model_folder, table

_ROOT = Path(__file__).resolve().parents[1]


# -- the baseline users write by hand ----------------------------------------------------------
def st_server(folder: str, device: str, dtype: str) -> None:
    """A plain FastAPI app: one ``SentenceTransformer.encode`` per request (FastAPI's threads)."""
    import torch
    import uvicorn
    from fastapi import FastAPI
    from sentence_transformers import SentenceTransformer

    from harrier.serve import bind

    model = SentenceTransformer(
        folder, device=device, model_kwargs={"dtype": getattr(torch, dtype)}
    )
    app = FastAPI()

    @app.post("/v1/embeddings")
    def embed(body: dict) -> dict:  # type: ignore[type-arg]
        query = body.get("input_type") == "query"
        vectors = model.encode(
            body["input"],
            normalize_embeddings=True,
            prompt_name="web_search_query" if query else None,
        )
        return {"data": [{"index": i, "embedding": row.tolist()} for i, row in enumerate(vectors)]}

    @app.get("/health")
    def health() -> dict:  # type: ignore[type-arg]
        return {"status": "ok"}

    sock = bind("127.0.0.1", 0)
    sys.stderr.write(f"listening on http://127.0.0.1:{sock.getsockname()[1]}\n")
    sys.stderr.flush()
    uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False)).run(sockets=[sock])


# -- servers in subprocesses -------------------------------------------------------------------
class Server:
    def __init__(self, command: list[str], threads: int = 0) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(_ROOT / "core"), os.environ.get("PYTHONPATH", "")]),
            "HF_HUB_OFFLINE": "1",
        }
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stderr is not None
        for line in self.process.stderr:
            found = re.search(r"listening on http://([\d.]+):(\d+)", line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                break
        else:
            raise RuntimeError(f"server exited: {self.process.wait()}")
        # keep reading its stderr: a write to a closed pipe (a loading bar) would kill the load
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        deadline = time.monotonic() + 300
        while asyncio.run(_status(self.host, self.port, "GET", "/health")) != 200:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("server never became ready")
            time.sleep(0.2)

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the load generator ------------------------------------------------------------------------
async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    body: bytes = b"",
) -> tuple[int, bytes]:
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
    return status, await reader.readexactly(length)


async def _status(host: str, port: int, method: str, path: str) -> int:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return 0
    try:
        return (await asyncio.wait_for(_exchange(reader, writer, method, path), 10))[0]
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
        return 0
    finally:
        writer.close()


async def _load(
    host: str, port: int, bodies: list[bytes], clients: int, seconds: float | None
) -> dict[str, object]:
    """``clients`` connections send ``bodies`` (round robin) until done or ``seconds`` pass."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.monotonic() + seconds if seconds else None
    queue = iter(range(len(bodies) if stop is None else 10**9))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for i in queue:
            if stop is not None and time.monotonic() > stop:
                break
            started = time.perf_counter()
            status, _ = await _exchange(
                reader, writer, "POST", "/v1/embeddings", bodies[i % len(bodies)]
            )
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - started)
            elif status in (429, 503):
                await asyncio.sleep(0.02)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {
        "ok": len(latencies),
        "statuses": statuses,
        "q/s": len(latencies) / wall,
        "p50 ms": float(np.percentile(ms, 50)),
        "p99 ms": float(np.percentile(ms, 99)),
    }


async def _overload(
    server: Server, bodies: list[bytes], clients: int, seconds: float
) -> dict[str, object]:
    health: list[int] = []
    rss: list[float] = []

    async def probe() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            health.append(await _status(server.host, server.port, "GET", "/health"))
            rss.append(server.rss_mib())
            await asyncio.sleep(0.1)

    result, _ = await asyncio.gather(
        _load(server.host, server.port, bodies, clients, seconds), probe()
    )
    result["health ok"] = f"{sum(s == 200 for s in health)}/{len(health)}"
    result["RSS max MiB"] = max(rss)
    return result


async def _refusals(
    host: str, port: int, body: bytes, seconds: float
) -> tuple[list[float], dict[int, int]]:
    """Send ``body`` back to back for ``seconds``: each answer's time after the server had what
    it answered on (the body's last byte sent, or the headers when it answers before the body
    is sent), and the statuses."""
    times: list[float] = []
    statuses: dict[int, int] = {}
    head = (
        "POST /embed HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    stop = time.monotonic() + seconds
    reader, writer = await asyncio.open_connection(host, port)
    while time.monotonic() < stop:
        writer.transport.set_write_buffer_limits(0)  # drain() returns once every byte is sent
        answer = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
        started = time.perf_counter()
        last_byte = None
        try:
            writer.write(head)
            for at in range(0, len(body), 1 << 20):
                if answer.done():
                    break
                writer.write(body[at : at + (1 << 20)])
                await writer.drain()
            else:
                last_byte = time.perf_counter()
        except (ConnectionError, OSError):
            pass
        try:
            header = await answer
        except (ConnectionError, asyncio.IncompleteReadError):
            reader, writer = await asyncio.open_connection(host, port)
            continue
        answered = time.perf_counter()
        since = last_byte if last_byte is not None and last_byte < answered else started
        times.append(answered - since)
        status = int(header.split(b" ", 2)[1])
        statuses[status] = statuses.get(status, 0) + 1
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", header).group(1))  # type: ignore[union-attr]
        try:
            await reader.readexactly(length)
            reuse = b"connection: close" not in header.lower()
        except (ConnectionError, asyncio.IncompleteReadError):
            reuse = False  # closed with the body unread: the kernel resets the connection
        if not reuse:
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    return times, statuses


def _share_within(server: Server, endpoint: str, bound: str) -> float:
    """The share of ``endpoint``'s requests the server answered within ``bound`` seconds of
    their headers (its latency histogram in /metrics)."""
    import httpx

    metrics = httpx.get(f"http://{server.host}:{server.port}/metrics").text
    name = "harrier_request_latency_seconds"
    pattern = rf'{name}_bucket{{endpoint="{endpoint}",le="{bound}"}} (\S+)'
    within = float(re.search(pattern, metrics).group(1))  # type: ignore[union-attr]
    total = float(re.search(rf'{name}_count{{endpoint="{endpoint}"}} (\S+)', metrics).group(1))  # type: ignore[union-attr]
    return within / total if total else 0.0


def _send_refusals(
    host: str, port: int, body: bytes, senders: int, seconds: float
) -> list[tuple[list[float], dict[int, int]]]:
    async def every() -> list[tuple[list[float], dict[int, int]]]:
        return await asyncio.gather(*(_refusals(host, port, body, seconds) for _ in range(senders)))

    return asyncio.run(every())


def attack(
    serve: list[str],
    bodies: list[bytes],
    threads: int,
    senders: int,
    seconds: float,
    megabytes: float,
    case: str,
) -> list[dict[str, object]]:
    """The over-limit attack on one server (see the module docstring)."""
    huge = json.dumps({"inputs": "word " * int(megabytes * 2e5)}).encode()  # one long string
    server = Server(serve, threads)
    try:
        asyncio.run(_load(server.host, server.port, bodies[:64], 4, None))  # warm-up
        unloaded = asyncio.run(_load(server.host, server.port, bodies, 1, seconds / 3))
        before = server.rss_mib()

        # the senders in a process of their own, so that the client's latencies are the server's
        with ProcessPoolExecutor(1) as pool:
            senders_done = pool.submit(
                _send_refusals, server.host, server.port, huge, senders, seconds
            )
            loaded = asyncio.run(_load(server.host, server.port, bodies, 1, seconds))
            attacks = senders_done.result()
        time.sleep(2)  # the last answers leave; memory is given back after large bodies
        after = server.rss_mib()
        within = _share_within(server, "/embed", "0.05")  # the attack's route, its own time
        peak = server.peak_rss_mib()
    finally:
        server.stop()
    refusal_ms = np.array([t for times, _ in attacks for t in times]) * 1000
    statuses: dict[int, int] = {}
    for _, counts in attacks:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    ratio = float(loaded["p50 ms"]) / float(unloaded["p50 ms"])  # type: ignore[arg-type]
    return [
        {
            "case": f"{case}, {senders} senders x {len(huge) / 1e6:.1f} MB bodies, {seconds:.0f} s",
            "refusals": len(refusal_ms),
            "statuses": statuses,
            "refusal ms p50 / p99 / max": f"{np.percentile(refusal_ms, 50):.1f} / "
            f"{np.percentile(refusal_ms, 99):.1f} / {refusal_ms.max():.1f}",
            "refused <= 50 ms server time": f"{within:.0%}",
            "query p50 ms unloaded / loaded": f"{unloaded['p50 ms']:.1f} / {loaded['p50 ms']:.1f}",
            "p50 loaded / unloaded (<= 2)": ratio,
            "queries ok": loaded["ok"],
            "RSS MiB before / after / peak": f"{before:.0f} / {after:.0f} / {peak:.0f}",
            "RSS after / before (<= 1.15)": after / before,
        }
    ]


def _vectors(server: Server, texts: list[str]) -> np.ndarray:
    import httpx

    body = {"input": texts, "input_type": "query"}
    rows = httpx.post(
        f"http://{server.host}:{server.port}/v1/embeddings", json=body, timeout=120
    ).json()["data"]
    return np.array(
        [row["embedding"] for row in sorted(rows, key=lambda r: r["index"])], dtype=np.float32
    )


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", default="harrier-270m")
    parser.add_argument("--layers", type=int, default=2, help="depth (full depth: 0)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=640, help="per throughput run")
    parser.add_argument("--overload-seconds", type=float, default=30.0, help="0: skip")
    parser.add_argument("--overload-factor", type=int, default=10)
    parser.add_argument(
        "--attack", action="store_true", help="run only the over-limit attack (see above)"
    )
    parser.add_argument("--attack-seconds", type=float, default=30.0)
    parser.add_argument("--attack-senders", type=int, default=4)
    parser.add_argument(
        "--attack-mb",
        default="10",
        help="body sizes in MB, comma-separated (10: over the 4 MiB default request limit; "
        "4: under it, parsed, refused by the length of its text)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS of every server (default: 1 on CPU, where 2-thread "
        "teams stall on a shared machine; torch's own choice on GPU)",
    )
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "harrier-bench"))
    parser.add_argument("--st-server", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    threads = (
        args.torch_threads
        if args.torch_threads is not None
        else (0 if args.device.startswith("cuda") else 1)
    )
    if args.st_server:
        st_server(args.st_server, args.device, dtype)
        return []

    from transformers import AutoTokenizer

    rows: list[dict[str, object]] = []
    for shape in args.shapes.split(","):
        folder = str(model_folder(Path(args.cache), shape, args.layers or None))
        queries = corpus(AutoTokenizer.from_pretrained(folder), 512, 5, 40, seed=2)
        bodies = [json.dumps({"input": [q], "input_type": "query"}).encode() for q in queries]
        serve = [
            sys.executable,
            "-m",
            "harrier.cli",
            "serve",
            "--model",
            folder,
            "--port",
            "0",
            "--device",
            args.device,
            "--dtype",
            dtype,
        ]
        cases = {
            "harrier serve, batching": serve,
            "harrier serve, one request at a time": [*serve, "--max-batch-requests", "1"],
            "FastAPI + SentenceTransformer.encode": [
                sys.executable,
                __file__,
                "--st-server",
                folder,
                "--device",
                args.device,
            ],
        }
        case = f"{shape} L{args.layers or 'full'}"
        if args.attack:
            for megabytes in args.attack_mb.split(","):
                rows += attack(
                    serve,
                    bodies,
                    threads,
                    args.attack_senders,
                    args.attack_seconds,
                    float(megabytes),
                    case,
                )
            continue
        results: dict[str, dict[str, object]] = {}
        vectors: dict[str, np.ndarray] = {}
        for name, command in cases.items():
            server = Server(command, threads)
            try:
                asyncio.run(_load(server.host, server.port, bodies[:64], 8, None))  # warm-up
                if args.device.startswith("cuda"):
                    asyncio.run(_load(server.host, server.port, bodies, args.clients, None))
                timed = [bodies[i % len(bodies)] for i in range(args.requests)]
                results[name] = asyncio.run(
                    _load(server.host, server.port, timed, args.clients, None)
                )
                vectors[name] = _vectors(server, queries[:8])
            finally:
                server.stop()
        batched = results["harrier serve, batching"]["q/s"]
        reference = vectors["FastAPI + SentenceTransformer.encode"]
        for name, result in results.items():
            rows.append(
                {
                    "case": f"{case}, {args.clients} clients x 1 query",
                    "server": name,
                    "q/s": result["q/s"],
                    "p50 ms": result["p50 ms"],
                    "p99 ms": result["p99 ms"],
                    "batching speed-up": batched / result["q/s"],  # type: ignore[operator]
                    "max |diff| vs ST": float(np.abs(vectors[name] - reference).max()),
                    "statuses": result["statuses"],
                    "/health 200": "",
                    "RSS MiB before / max / peak": "",
                }
            )
        if args.overload_seconds:
            clients = args.clients * args.overload_factor
            server = Server([*serve, "--max-queue-texts", str(4 * args.clients)], threads)
            try:
                before = server.rss_mib()
                result = asyncio.run(_overload(server, bodies, clients, args.overload_seconds))
                rows.append(
                    {
                        "case": f"{case}, overload: {clients} clients, "
                        f"{args.overload_seconds:.0f} s",
                        "server": f"harrier serve, queue {4 * args.clients} texts",
                        "q/s": result["q/s"],
                        "p50 ms": result["p50 ms"],
                        "p99 ms": result["p99 ms"],
                        "batching speed-up": "",
                        "max |diff| vs ST": "",
                        "statuses": result["statuses"],
                        "/health 200": result["health ok"],
                        "RSS MiB before / max / peak": f"{before:.0f} / "
                        f"{result['RSS max MiB']:.0f} / {server.peak_rss_mib():.0f}",
                    }
                )
            finally:
                server.stop()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
