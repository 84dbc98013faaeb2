"""run_manifest.json: everything needed to reproduce or compare a run (versions, revisions, subset hash, seeds, device)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from .fingerprint import fingerprint

_PACKAGES = ("mimic-bench-release", "torch", "transformers", "datasets", "accelerate", "av", "torchcodec", "pyarrow")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def harness_commit() -> str | None:
    """The git commit of the harness source, when it runs from a checkout (None from an installed wheel)."""
    root = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def dataset_revision(bench_dir: str | os.PathLike, tasks: list[str]) -> dict[str, str]:
    """sha256 of each task parquet: the content revision of the questions actually evaluated."""
    bench_dir = Path(bench_dir)
    return {task: hashlib.sha256((bench_dir / f"{task}.parquet").read_bytes()).hexdigest()[:16] for task in tasks}


def hydrated_subset(rows: list[dict[str, Any]], bench_dir: str | os.PathLike) -> dict[str, Any]:
    """Which videos were present: results on different subsets are not comparable, and this hash tells them apart."""
    present = sorted({row["video_id"] for row in rows if row.get("file_name")
                      and (Path(bench_dir) / row["file_name"]).is_file()})
    videos = {row["video_id"] for row in rows}
    return {"n_videos": len(videos), "n_present": len(present), "hash": fingerprint(present)}


def device_info() -> dict[str, Any]:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def build_manifest(*, adapter_identity: dict[str, Any], model_fp: str, bench_dir: str | os.PathLike,
                   tasks: list[str], rows: list[dict[str, Any]], conditions: list[str], circular: bool,
                   frame_policy: dict[str, Any] | None, generation: dict[str, Any], seed: int,
                   world_size: int) -> dict[str, Any]:
    prompt_versions = sorted({str(row.get("prompt_version")) for row in rows})
    return {
        "harness": {"commit": harness_commit(), "versions": package_versions()},
        "dataset": {"bench_dir": str(Path(bench_dir).resolve()), "revision": dataset_revision(bench_dir, tasks),
                    "prompt_versions": prompt_versions, "hydrated_subset": hydrated_subset(rows, bench_dir)},
        "model": {"identity": adapter_identity, "fingerprint": model_fp},
        "evaluation": {"tasks": tasks, "conditions": conditions, "circular": circular,
                       "frame_policy": frame_policy, "generation": generation, "world_size": world_size},
        "seeds": {"seed": seed},
        "device": device_info(),
    }
