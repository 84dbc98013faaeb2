"""Data-parallel sharding by video (decode reuse stays within a rank) and a file-based finish line (no collectives).

Under `accelerate launch` / `torchrun`, each process reads RANK and WORLD_SIZE, evaluates the videos whose
`mimic_data.io.shard_of(video_id, WORLD_SIZE)` is its rank, appends to its own log file, and drops a done-marker; its
model sits on the GPUs of its LOCAL_RANK (`rank_device`, `rank_gpus`). The
one process that sees all markers and wins the O_EXCL merge lock merges the logs and scores; the others just exit.
"""

from __future__ import annotations

import os
from pathlib import Path


def rank_and_world() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def local_rank_and_world() -> tuple[int, int]:
    """This process's place among the processes of its machine (torchrun and `accelerate launch` set both)."""
    return int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("LOCAL_WORLD_SIZE", 1))


def rank_gpus(device_count: int) -> list[int]:
    """The GPUs this process may use: all of them when it is alone on its machine; under a launcher, an equal disjoint
    slice per local rank (8 GPUs, 4 processes -> 2 each, for a model sharded by `device_map`). More processes than
    GPUs share them round-robin (also right when a launcher gives each process one visible GPU)."""
    local_rank, local_world = local_rank_and_world()
    if device_count == 0:
        return []
    if local_world > device_count:
        return [local_rank % device_count]
    per_rank = device_count // local_world
    return list(range(local_rank * per_rank, (local_rank + 1) * per_rank))


def rank_device():
    """This process's device, made current: its first GPU (see rank_gpus), or the CPU. Without this every rank of an
    `accelerate launch` would load its model onto cuda:0."""
    import torch

    gpus = rank_gpus(torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if not gpus:
        return torch.device("cpu")
    torch.cuda.set_device(gpus[0])
    return torch.device("cuda", gpus[0])


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
