"""`mimic demo`: the main job end to end on the embedded synthetic world, offline.

Each stage writes under one folder (default runs/demo) and the stage timings go to `demo_timings.json`, so the figures
in the README come from a file the run wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

DEMO_WORLD_SIZE = 4000
DEMO_BENCH_SIZE = 120
DEMO_SEED = 0


def _stage_data(out: Path, state: dict) -> None:
    import pyarrow.parquet as pq

    from mimic_data.io import write_parquet
    from mimic_data.release import release
    from mimic_data.select import SelectionConfig, select_splits
    from mimic_data.synth import synthesize

    world = synthesize(out / "world", n=DEMO_WORLD_SIZE, seed=DEMO_SEED)
    records = pq.read_table(world / "records.parquet")
    splits = select_splits(records, SelectionConfig(bench_size=DEMO_BENCH_SIZE))
    write_parquet(world / "splits.parquet", splits)
    release(records, splits, out / "release" / "MIMIC-Data")
    state["world"] = world


STAGES: list[tuple[str, Callable[[Path, dict], None]]] = [
    ("data: synth -> select -> release", _stage_data),
]


def run_demo(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    state: dict = {}
    timings = {}
    for name, stage in STAGES:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        stage(out, state)
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"   done in {timings[name]:.1f} s", flush=True)
    timings["total"] = round(sum(timings.values()), 2)
    from mimic_data.io import atomic_write_json

    atomic_write_json(out / "demo_timings.json", timings)
    return timings


def _handler(args) -> None:
    timings = run_demo(Path(args.out))
    print(json.dumps(timings, indent=2))


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on the synthetic world (offline)")
    parser.add_argument("--out", default="runs/demo")
    parser.set_defaults(handler=_handler)
