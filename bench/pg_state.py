"""The service's own state on Postgres against SQLite: what a request pays for its trace, a
key check, a feedback rating, an ingest job's bookkeeping, and how fast replicas drain the
job queue when they take abandoned jobs over (`claim`, `SKIP LOCKED` on Postgres, the file's
write lock on SQLite), in one run on the same machine.

Each operation runs `--n` times in one thread (p50 / p95 in ms); the queue test creates
`--jobs` abandoned jobs with one small stored file each and lets `--workers` threads, each
with a connection (pool) of its own as a replica has, claim until none is left (jobs/s, and
that no job was claimed twice). A Postgres 18 is started from the bundled wheel (`--url`
uses one already running: an empty database, please).

    PYTHONPATH=src .venv/bin/python bench/pg_state.py
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from cairn.server.db import SERVER_FILE, ServerDB, StateDB
from cairn.server.feedback import SQLiteFeedbackStore
from cairn.server.jobstore import LEASE_S, SQLiteJobStore
from cairn.server.keys import SQLiteKeyStore
from cairn.server.pgstate import open_server_db
from cairn.testing.clock import Clock
from cairn.testing.postgres import PostgresServer
from cairn.testing.traces import make_trace
from cairn.trace.postgres import PostgresTraceStore
from cairn.trace.sqlite import SQLiteTraceStore
from cairn.trace.storage import TraceStore

OpenDB = Callable[[], AbstractContextManager[StateDB]]


def timed(n: int, op: Callable[[int], object]) -> tuple[float, float]:
    """p50 and p95 of `op(i)` in ms."""
    took = []
    for i in range(n):
        start = time.perf_counter()
        op(i)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return statistics.median(took), took[int(0.95 * (len(took) - 1))]


def single_ops(db: StateDB, traces: TraceStore, n: int) -> dict[str, tuple[float, float]]:
    keys = SQLiteKeyStore(db)
    _, secret = keys.create(tenant="acme", scopes=["ask"])
    feedback = SQLiteFeedbackStore(db)
    jobs = SQLiteJobStore(db)

    def job(i: int) -> None:
        created = jobs.create("acme", ["a.md"], {"a.md": b"# A\n\n" + b"x" * 2000})
        jobs.update(created["id"], status="running")
        jobs.update(created["id"], done=1, chunks=3)
        jobs.update(created["id"], status="done")

    return {
        "trace write (3 spans)": timed(n, lambda i: traces.write(make_trace(f"t{i}", tenant="a"))),
        "trace read (get)": timed(n, lambda i: traces.get(f"t{i}", tenant="a")),
        "key verify": timed(n, lambda i: keys.verify(secret)),
        "feedback add": timed(
            n,
            lambda i: feedback.add(
                trace_id=f"t{i}", tenant="acme", user="u", rating="up", comment=None
            ),
        ),
        "job create+3 updates": timed(n, job),
    }


def drain(open_db: OpenDB, jobs: int, workers: int) -> tuple[float, int, int]:
    """(jobs/s, jobs claimed, jobs claimed twice)."""
    clock = Clock()
    with open_db() as db:
        dead = SQLiteJobStore(db, owner="dead", clock=clock)
        for n in range(jobs):
            dead.create("acme", [f"{n}.md"], {f"{n}.md": b"x" * 1000})
    clock.advance(LEASE_S + 1)
    claimed: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(workers + 1)

    def work(name: str) -> None:
        with open_db() as own:
            store = SQLiteJobStore(own, owner=name, clock=clock)
            ready.wait()
            while (job := store.claim()) is not None:
                store.update(job["id"], status="done")
                with lock:
                    claimed.append(job["id"])

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for t in threads:
        t.start()
    ready.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return len(claimed) / seconds, len(claimed), len(claimed) - len(set(claimed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--url", help="an empty Postgres database (default: start one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, _postgres(args.url) as base:
        folder = Path(tmp)

        @contextmanager
        def sqlite(path: Path = folder / "queue" / SERVER_FILE) -> Iterator[StateDB]:
            db = ServerDB(path)
            try:
                yield db
            finally:
                db.close()

        @contextmanager
        def postgres(url: str) -> Iterator[StateDB]:
            db = open_server_db(url, max_size=2)
            try:
                yield db
            finally:
                db.close()

        results: dict[str, dict[str, tuple[float, float]]] = {}
        queues: dict[str, tuple[float, int, int]] = {}
        with sqlite(folder / SERVER_FILE) as db:
            traces = SQLiteTraceStore(folder / "traces.db")
            results["SQLite"] = single_ops(db, traces, args.n)
            traces.close()
        url = base()
        with postgres(url) as db:
            pg_traces = PostgresTraceStore(url)
            results["Postgres"] = single_ops(db, pg_traces, args.n)
            pg_traces.close()
        queues["SQLite"] = drain(sqlite, args.jobs, args.workers)
        queue_url = base()
        queues["Postgres"] = drain(lambda: postgres(queue_url), args.jobs, args.workers)

    print(f"\nper operation, one thread, n={args.n} (p50 / p95 ms)")
    print(f"{'operation':24} {'SQLite':>15} {'Postgres':>15} {'PG/SQLite p50':>14}")
    for op, (p50, p95) in results["SQLite"].items():
        pg50, pg95 = results["Postgres"][op]
        print(f"{op:24} {p50:7.2f} / {p95:5.2f} {pg50:7.2f} / {pg95:5.2f} {pg50 / p50:13.1f}x")
    print(f"\ntaking over {args.jobs} abandoned jobs with {args.workers} workers")
    print(f"{'backend':10} {'jobs/s':>8} {'claimed':>8} {'twice':>6}")
    for name, (rate, total, twice) in queues.items():
        print(f"{name:10} {rate:8.0f} {total:8d} {twice:6d}")


@contextmanager
def _postgres(url: str | None) -> Iterator[Callable[[], str]]:
    if url is not None:
        yield lambda: url
        return
    with PostgresServer() as server:
        yield server.new_database


if __name__ == "__main__":
    main()
