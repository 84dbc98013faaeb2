"""`mimic data synth` / `mimic data render`: write the synthetic world's records, and render the videos a job needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from .io import write_parquet
from .render import render_video, video_relpath
from .select import SelectionConfig, select_splits
from .world import WorldConfig, generate_world

RECORDS_FILE = "records.parquet"
WORLD_FILE = "world.parquet"
SPLITS_FILE = "splits.parquet"


def synthesize(out_dir: str | Path, n: int, seed: int = 0, snapshot_date: dt.date | None = None) -> Path:
    """Write records.parquet (RECORD_SCHEMA) and world.parquet (latent content, for rendering) into out_dir."""
    cfg = WorldConfig(n=n, seed=seed, **({"snapshot_date": snapshot_date} if snapshot_date else {}))
    records, world = generate_world(cfg)
    out_dir = Path(out_dir)
    write_parquet(out_dir / RECORDS_FILE, records)
    write_parquet(out_dir / WORLD_FILE, world)
    return out_dir


def synthesize_with_splits(out_dir: str | Path, n: int, seed: int = 0, bench_size: int = 4000) -> Path:
    """`synthesize`, then the bench/train selection written beside it as splits.parquet: the working folder that the
    bench builder, the SFT data and the releases read."""
    out_dir = synthesize(out_dir, n=n, seed=seed)
    splits = select_splits(pq.read_table(out_dir / RECORDS_FILE), SelectionConfig(bench_size=bench_size))
    write_parquet(out_dir / SPLITS_FILE, splits)
    return out_dir


def render(world_dir: str | Path, video_ids: Iterable[str], out_root: str | Path, progress: bool = True) -> list[Path]:
    """Render the given videos under out_root/videos/<platform>/<id[:2]>/<id>.mp4; existing files are kept (resume)."""
    wanted = set(video_ids)
    specs = [row for row in pq.read_table(Path(world_dir) / WORLD_FILE).to_pylist() if row["video_id"] in wanted]
    unknown = wanted - {row["video_id"] for row in specs}
    if unknown:
        raise KeyError(f"{len(unknown)} video ids are not in the synthetic world, e.g. {sorted(unknown)[:3]}")
    out_root, paths = Path(out_root), []
    for spec in tqdm(specs, desc="render", unit="video", disable=not progress):
        path = out_root / video_relpath(spec["platform"], spec["video_id"])
        if not path.exists():
            render_video(spec, path)
        paths.append(path)
    return paths
