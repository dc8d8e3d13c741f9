"""Webhook ingestion: deliveries accepted durably per second, and latency percentiles.

`stockbridge serve` runs in its own process (SQLite or PostgreSQL hub, one store connected
to a BigCommerce sandbox in a third process); a load generator on loopback sends a bounded
number of signed BigCommerce deliveries over keep-alive connections and times each answer.
"Accepted durably" means answered 200 after the event was committed to the inbox; the
count of stored events is checked in the database afterwards.

The load generator is `wrk` (C, a Lua script makes every request a delivery of its own);
the bench installs it with apt-get when it is missing and falls back, with a note, to a
pure-Python asyncio generator that shares the two cores with the server.

By default deliveries go as fast as answers come back (saturation: the most the server
accepts, and its latency then); ``--rate N`` paces them at an offered N a second instead
(latency at a given load). After the load the bench waits until every stored event has
been turned into work, and fails if that takes over a minute.

    python -m bench webhook_ingest [--database sqlite|postgresql] [--generator wrk|python]
        [--deliveries 100000] [--connections 32] [--duplicates 0.1] [--max-seconds 60]
        [--rate 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.checks import Checks
from bench.processes import free_port, wait_until_up

SECRET_HEADER = "X-Stockbridge-Secret"
WRK_SCRIPT = Path(__file__).with_name("webhook_wrk.lua")
POSTGRES_URL = os.environ.get(
    "STOCKBRIDGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Outcome:
    generator: str
    elapsed: float
    sent: int
    ok: int
    errors: int
    fresh: int
    p50: float
    p95: float | None
    p99: float
    p999: float | None = None
    note: str = ""


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "stockbridge.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@contextlib.contextmanager
def _database(kind: str, tmp: str) -> Iterator[str]:
    """A fresh, empty database of ``kind``; its SQLAlchemy URL."""
    if kind == "sqlite":
        yield f"sqlite:///{Path(tmp) / 'stockbridge.db'}"
        return
    import sqlalchemy

    name = f"stockbridge_bench_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield str(sqlalchemy.engine.make_url(POSTGRES_URL).set(database=name))
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _count(url: str, sql: str) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql(sql).scalar_one())
    finally:
        engine.dispose()


def _drained_after(url: str, limit: float = 60.0) -> float | None:
    """Seconds until the server had turned every stored event into work (None: not
    within ``limit``): whether background processing keeps up with the intake."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not _count(url, "select count(*) from inbox_events where processed_at is null"):
            return time.perf_counter() - started
        time.sleep(0.1)
    return None


def _wrk() -> str | None:
    """The wrk binary, installed with apt-get when missing (the bench runs as root on the
    project's machines); None when it cannot be had."""
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get"):
        return found
    print("==> wrk is missing; installing it with apt-get", file=sys.stderr)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, **quiet).returncode != 0:  # type: ignore[call-overload]
        subprocess.run(["apt-get", "update", "-q"], **quiet)  # type: ignore[call-overload]
        subprocess.run(install, **quiet)  # type: ignore[call-overload]
    return shutil.which("wrk")


def _run_wrk(
    wrk: str,
    url: str,
    secret: str,
    deliveries: int,
    connections: int,
    duplicates: float,
    seconds: int,
    rate: int,
) -> Outcome:
    threads = 2 if connections >= 2 else 1
    per_thread = deliveries // threads
    env = {
        **os.environ,
        "WEBHOOK_PATH": "/webhooks/bigcommerce/bench",
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_DELIVERIES": str(per_thread),
        "WEBHOOK_DUPLICATES": str(duplicates),
        "WEBHOOK_SEED": "1",
        "WEBHOOK_RATE": str(rate / threads),
    }
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            url,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    r = json.loads(line.removeprefix("RESULT "))
    errors = (r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["status_errors"]) + r[
        "timeouts"
    ]
    return Outcome(
        generator=f"wrk, {threads} threads" + (f", paced at {rate:,}/s" if rate else ""),
        elapsed=r["duration_us"] / 1e6,
        sent=r["sent"],
        ok=r["ok"],
        errors=errors,
        fresh=r["fresh"],
        p50=r["p50_us"] / 1000,
        p95=None,
        p99=r["p99_us"] / 1000,
        p999=r["p999_us"] / 1000,
    )


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


def _run_python(
    port: int, secret: str, deliveries: int, connections: int, duplicates: float, note: str
) -> Outcome:
    rng = random.Random(1)
    unique = int(deliveries * (1 - duplicates))
    hashes = [f"h{n:08d}" for n in range(unique)]
    hashes += [rng.choice(hashes) for _ in range(deliveries - unique)]
    rng.shuffle(hashes)
    bodies = [
        json.dumps(
            {
                "scope": "store/order/updated",
                "store_id": "1",
                "data": {"type": "order", "id": 1 + n % 500},
                "hash": h,
                "created_at": int(time.time()),
                "producer": "stores/bench",
            }
        ).encode()
        for n, h in enumerate(hashes)
    ]
    latencies: list[float] = []
    statuses: list[int] = []
    per = [bodies[i::connections] for i in range(connections)]

    async def run_all() -> None:
        await asyncio.gather(*(_client(port, b, secret, latencies, statuses) for b in per))

    started = time.perf_counter()
    asyncio.run(run_all())
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    ok = sum(1 for s in statuses if s == 200)
    return Outcome(
        generator="pure-Python asyncio",
        elapsed=elapsed,
        sent=deliveries,
        ok=ok,
        errors=len(statuses) - ok + deliveries - len(statuses),
        fresh=unique,
        p50=pct(0.50),
        p95=pct(0.95),
        p99=pct(0.99),
        note=note,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench webhook_ingest")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk")
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of re-deliveries")
    parser.add_argument("--max-seconds", type=int, default=60, help="wrk's time bound")
    parser.add_argument(
        "--rate",
        type=int,
        default=0,
        help="offered load in deliveries/s (wrk only); 0: as fast as answers come (saturation)",
    )
    args = parser.parse_args(argv)
    wrk = _wrk() if args.generator == "wrk" else None
    note = ""
    if args.generator == "wrk" and wrk is None:
        note = "wrk could not be installed: fell back to the Python load generator"
        print(f"note: {note}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp, _database(args.database, tmp) as db_url:
        env = {**os.environ, "STOCKBRIDGE_HOME": tmp, "STOCKBRIDGE_DATABASE_URL": db_url}
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
            if wrk is not None:
                outcome = _run_wrk(
                    wrk,
                    hub_url,
                    secret,
                    args.deliveries,
                    args.connections,
                    args.duplicates,
                    args.max_seconds,
                    args.rate,
                )
            else:
                outcome = _run_python(
                    hub_port, secret, args.deliveries, args.connections, args.duplicates, note
                )
            drained = _drained_after(db_url)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=15)
            sandbox.terminate()
            sandbox.wait(timeout=10)
        stored = _count(db_url, "select count(*) from inbox_events")
        runs = _count(db_url, "select count(*) from sync_runs where trigger = 'webhook'")
    return _report(args, outcome, stored, drained, runs)


def _report(
    args: argparse.Namespace, o: Outcome, stored: int, drained: float | None, runs: int
) -> int:
    print(
        f"Webhook ingestion: {o.sent:,} deliveries sent ({args.duplicates:.0%} re-deliveries) "
        f"over {args.connections} keep-alive connections by {o.generator}, "
        f"stockbridge serve on {args.database}"
    )
    if o.note:
        print(f"  note: {o.note}")
    print(
        f"  {o.ok / o.elapsed:,.0f} webhooks/s accepted ({o.ok:,} answered 200 in "
        f"{o.elapsed:.1f} s, {o.errors:,} errors; {stored:,} distinct events stored, "
        f"{o.fresh:,} distinct sent)"
    )
    tail = f", p99.9 {o.p999:.1f} ms" if o.p999 is not None else ""
    p95 = f", p95 {o.p95:.1f} ms" if o.p95 is not None else ""
    print(f"  latency p50 {o.p50:.1f} ms{p95}, p99 {o.p99:.1f} ms{tail}")
    after = "not within 60 s" if drained is None else f"{drained:.1f} s after the load ended"
    print(f"  background: every event turned into work {after}; {runs} webhook runs requested")
    # wrk stops with up to one request in flight per connection, which the server may
    # still have stored: every distinct event answered is stored, none beyond those sent.
    in_flight = args.connections if o.generator.startswith("wrk") else 0
    checks = Checks("webhook_ingest")
    checks.equal(o.errors, 0, "deliveries not answered 200")
    checks.expect(o.ok > 0, f"deliveries answered 200: {o.ok:,}")
    checks.expect(
        o.fresh - in_flight <= stored <= o.fresh,
        f"distinct events stored {stored:,} = distinct sent {o.fresh:,}"
        + (f" (up to {in_flight} in flight when the load stopped)" if in_flight else ""),
    )
    checks.expect(drained is not None, "every stored event turned into work within 60 s")
    checks.expect(runs > 0, f"webhook runs requested: {runs}")
    return checks.exit_code()
