"""The share of an IVFFlat index's lists the Postgres store probes (`IVF_PROBES`): recall@10
against the exact scan, all chunks and under the 10%-selective `staff` ACL filter, and the
dense search's latency, through `PostgresStore.dense_ranking` itself.

Two query sets: the golden set's questions (evals/golden; their exact top 10 computed here by
the SQLite store's exact scan) and bench/million.py's latency questions (the exact top 10 of
its run, `exact.json`). Needs a store whose index is IVFFlat (`cairn migrate` of 200k+
vectors, or `cairn doctor --rebuild-vector-indexes`), e.g. the one bench/pg_search.py --url
copied:

    PYTHONPATH=src .venv/bin/python bench/pg_ivf_probes.py \
        --db bench/.cache/million/n1000000-0.02.db --url postgresql://.../million2 \
        --share 0.05 0.06 0.07 0.08 0.1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cairn.store.postgres.store as module
from cairn.config import load_settings
from cairn.store.postgres import PostgresStore
from cairn.store.sqlite import SQLiteStore
from cairn.types import Filters
from cairn.workspace import Workspace
from metrics import percentile  # type: ignore[import-not-found]
from pg_search import golden_questions  # type: ignore[import-not-found]

STAFF = Filters(principals=("staff",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--source", type=Path, default=Path("/work/main/.cairn"))
    parser.add_argument("--share", type=float, nargs="+", default=[0.06, 0.08])
    args = parser.parse_args()
    embedder = Workspace(load_settings(workspace=args.source)).embedder
    run = args.db.parent / f"run-{args.db.stem}"
    exact = json.loads((run / "exact.json").read_text())
    sets = {"latency questions": (np.load(run / "vectors.npy"), exact)}
    golden = embedder.embed(golden_questions())
    truth = SQLiteStore(args.db, ann_threshold=10**12)  # the exact scan at any size
    sets["golden questions"] = (
        golden,
        {
            key: {
                "ids": [
                    [r.chunk_id for r in truth.dense_ranking(v, 10, f, model=embedder.name)]
                    for v in golden
                ]
            }
            for key, f in (("dense_all", None), ("dense_staff", STAFF))
        },
    )
    truth.close()
    store = PostgresStore(args.url)
    print(f"{'queries':18} {'share':>5} {'filter':>6} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7}")
    for name, (vectors, want) in sets.items():
        for share in args.share:
            module.IVF_PROBES = share
            cases = (("none", None, "dense_all"), ("staff", STAFF, "dense_staff"))
            for label, filters, key in cases:
                for v in vectors[:10]:  # warm up
                    store.dense_ranking(v, 10, filters, model=embedder.name)
                times, recalls = [], []
                for v, ids in zip(vectors, want[key]["ids"], strict=True):
                    t = time.perf_counter()
                    got = store.dense_ranking(v, 10, filters, model=embedder.name)
                    times.append((time.perf_counter() - t) * 1000)
                    recalls.append(len({r.chunk_id for r in got} & set(ids)) / len(ids))
                print(
                    f"{name:18} {share:5.2f} {label:>6} {np.mean(recalls):9.3f} "
                    f"{percentile(times, 50):7.1f} {percentile(times, 95):7.1f}",
                    flush=True,
                )
    store.close()


if __name__ == "__main__":
    main()
