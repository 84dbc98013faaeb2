"""`mimic bench build`: the MIMIC-Bench folder from a MIMIC-Data folder (records.parquet + splits.parquet).

Writes `<task>.parquet` per MCQ task, `comment_generation.parquet`, `videos.parquet` (file_name null: no videos are
shipped) and `build_stats.json` (counts, skipped videos by reason, style-match levels, timings). The bench draws
distractors from the other bench videos: answer and distractors then come from the same interaction tier (no
high-vs-low-engagement style tell) and no training-pool text enters the bench. Deterministic for a given seed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mimic_data.io import atomic_write_json, write_parquet

from .build import build_task_tables, comment_generation_table, load_records, videos_table
from .embed import get_embedder
from .tasks import COMMENT_GENERATION, TASK_NAMES

BUILD_STATS = "build_stats.json"


def build_bench(data_dir: str | Path, out_dir: str | Path, seed: int = 0, embedder: str = "minilm") -> dict[str, Any]:
    """Build every config of the bench; returns the build stats (also written to build_stats.json)."""
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    splits = pq.read_table(data_dir / "splits.parquet").to_pylist()
    bench_ids = [r["video_id"] for r in splits if r["split"] == "bench"]
    if not bench_ids:
        raise ValueError(f"{data_dir}/splits.parquet has no bench videos; run `mimic data select` first")
    records = load_records(data_dir, bench_ids)
    loaded = time.perf_counter()
    stats: dict[str, Any] = {}
    tables = build_task_tables(records, records, embedder=get_embedder(embedder), seed=seed,
                               duplicate_groups={r["video_id"]: r["duplicate_group"] for r in splits}, stats=stats)
    for task in TASK_NAMES:
        write_parquet(out_dir / f"{task}.parquet", tables[task])
    generation = comment_generation_table(records)
    write_parquet(out_dir / f"{COMMENT_GENERATION}.parquet", generation)
    write_parquet(out_dir / "videos.parquet", videos_table(records, {r["video_id"]: r["tier"] for r in splits}))
    report = {"seed": seed, "embedder": embedder, "bench_videos": len(records), "tasks": stats,
              "comment_generation_items": len(generation),
              "seconds": {"load": round(loaded - started, 2), "total": round(time.perf_counter() - started, 2)}}
    atomic_write_json(out_dir / BUILD_STATS, report)
    return report
