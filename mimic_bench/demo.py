"""The bench part of `make demo`: build, audit and release the bench of a synthetic world."""

from __future__ import annotations

from pathlib import Path

from .audit import audit
from .embed import get_embedder
from .release import release
from .writer import build_bench


def build_demo_bench(world_dir: str | Path, out_dir: str | Path, seed: int = 0, embedder: str = "hashing",
                     train_videos: int = 1000) -> dict[str, Path]:
    """world_dir: a MIMIC-Data working folder with records.parquet + splits.parquet. The demo defaults to the hashing
    embedder (seconds instead of minutes on a CPU); `mimic bench build` defaults to MiniLM."""
    out_dir = Path(out_dir)
    bench_dir, release_dir = out_dir / "build", out_dir / "MIMIC-Bench"
    build_bench(world_dir, bench_dir, seed=seed, embedder=embedder)
    audit(bench_dir, world_dir, get_embedder(embedder), seed=seed, train_videos=train_videos)
    release(bench_dir, release_dir)
    return {"bench": bench_dir, "audit": bench_dir / "audit.json", "release": release_dir}
