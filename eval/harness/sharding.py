"""Data-parallel sharding by video (decode reuse stays within a rank) and a file-based finish line (no collectives).

Under `accelerate launch` / `torchrun`, each process reads RANK and WORLD_SIZE, evaluates the videos whose
`mimic_data.io.shard_of(video_id, WORLD_SIZE)` is its rank, appends to its own log file, and drops a done-marker. The
one process that sees all markers and wins the O_EXCL merge lock merges the logs and scores; the others just exit.
"""

from __future__ import annotations

import os
from pathlib import Path


def rank_and_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _marker(run_dir: Path, rank: int, world_size: int) -> Path:
    return run_dir / "shards" / f"done.{rank}-of-{world_size}"


def mark_rank_done(run_dir: str | os.PathLike, rank: int, world_size: int) -> None:
    marker = _marker(Path(run_dir), rank, world_size)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def all_ranks_done(run_dir: str | os.PathLike, world_size: int) -> bool:
    """True for exactly one caller once every rank has finished: that caller owns the merge."""
    run_dir = Path(run_dir)
    if not all(_marker(run_dir, r, world_size).exists() for r in range(world_size)):
        return False
    try:
        fd = os.open(run_dir / "shards" / "merge.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def release_merge(run_dir: str | os.PathLike) -> None:
    """After the merge: clear markers and lock so a later rerun of the same folder can finish again."""
    shards = Path(run_dir) / "shards"
    for path in shards.glob("done.*"):
        path.unlink()
    (shards / "merge.lock").unlink(missing_ok=True)
