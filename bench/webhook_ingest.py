"""Webhook ingestion: deliveries accepted durably per second, and latency percentiles.

`stockbridge serve` runs in its own process (SQLite hub, one store connected to a
BigCommerce sandbox in a third process); a load generator on loopback sends a bounded
number of signed BigCommerce deliveries over keep-alive connections and times each
answer. "Accepted durably" means answered 200 after the event was committed to the inbox;
the count of stored events is checked in the database afterwards.

    python -m bench webhook_ingest [--deliveries 20000] [--connections 32] [--duplicates 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.processes import free_port, wait_until_up

SECRET_HEADER = "X-Stockbridge-Secret"


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "stockbridge.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


async def _client(
    port: int, bodies: list[bytes], secret: str, latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            request = (
                f"POST /webhooks/bigcommerce/bench HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\n{SECRET_HEADER}: {secret}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head.split(b" ")[1]))
    finally:
        writer.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhook_ingest")
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of re-deliveries")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "STOCKBRIDGE_HOME": tmp}
        env.pop("STOCKBRIDGE_DATABASE_URL", None)
        bc_port, hub_port = free_port(), free_port()
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stockbridge.cli",
                "sandbox",
                "bigcommerce",
                "--port",
                str(bc_port),
                "--store-hash",
                "bench",
                "--access-token",
                "bench-token",
                "--quota",
                "1000000",
            ],
            stdout=subprocess.DEVNULL,
        )
        server = None
        try:
            wait_until_up(f"http://127.0.0.1:{bc_port}/admin/stores/bench/counters")
            _cli(env, "init")
            _cli(env, "store", "add", "bench")
            hub_url = f"http://127.0.0.1:{hub_port}"
            _cli(
                env,
                "connect",
                "bigcommerce",
                "--store",
                "bench",
                "--store-hash",
                "bench",
                "--access-token",
                "bench-token",
                "--api-url",
                f"http://127.0.0.1:{bc_port}",
                "--webhook-base-url",
                hub_url,
            )
            hooks = httpx.get(f"http://127.0.0.1:{bc_port}/admin/stores/bench/counters").json()[
                "hooks"
            ]
            secret = hooks[0]["headers"][SECRET_HEADER]
            server = subprocess.Popen(
                [sys.executable, "-m", "stockbridge.cli", "serve", "--port", str(hub_port)],
                env=env,
                stdout=subprocess.DEVNULL,
            )
            wait_until_up(f"{hub_url}/healthz")
            rng = random.Random(1)
            unique = int(args.deliveries * (1 - args.duplicates))
            hashes = [f"h{n:08d}" for n in range(unique)]
            hashes += [rng.choice(hashes) for _ in range(args.deliveries - unique)]
            rng.shuffle(hashes)
            bodies = [
                json.dumps(
                    {
                        "scope": "store/order/updated",
                        "store_id": "1",
                        "data": {"type": "order", "id": 1 + n % 500},
                        "hash": h,
                        "created_at": 1_700_000_000,
                        "producer": "stores/bench",
                    }
                ).encode()
                for n, h in enumerate(hashes)
            ]
            latencies: list[float] = []
            statuses: list[int] = []
            per = [bodies[i :: args.connections] for i in range(args.connections)]

            async def run_all() -> None:
                await asyncio.gather(
                    *(_client(hub_port, b, secret, latencies, statuses) for b in per)
                )

            started = time.perf_counter()
            asyncio.run(run_all())
            elapsed = time.perf_counter() - started
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=15)
            sandbox.terminate()
            sandbox.wait(timeout=10)
        stored = _count_inbox(Path(tmp) / "stockbridge.db")
    latencies.sort()
    ok = sum(1 for s in statuses if s == 200)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    print(
        f"Webhook ingestion: {args.deliveries:,} deliveries ({args.duplicates:.0%} re-deliveries) "
        f"over {args.connections} keep-alive connections, stockbridge serve on SQLite"
    )
    print(
        f"  {ok / elapsed:,.0f} webhooks/s accepted ({ok:,} answered 200 in {elapsed:.1f} s; "
        f"{stored:,} distinct events stored, {unique:,} expected)"
    )
    print(f"  latency p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms")
    return 0 if ok == args.deliveries and stored == unique else 1


def _count_inbox(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as connection:
        return int(connection.execute("select count(*) from inbox_events").fetchone()[0])
