"""The evaluation stage of `make demo`: random, blind and each MIMIC-Chat (video and blanked) -> leaderboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .adapters.registry import build_adapter
from .leaderboard import write_leaderboard
from .runner import RunOptions, run_eval


def evaluate_demo(bench_dir: str | os.PathLike, model_dirs: dict[str, str | os.PathLike],
                  out_dir: str | os.PathLike) -> dict[str, Any]:
    """Runs land in out_dir/runs/<name>; the leaderboard in out_dir. model_dirs maps a display name to a MIMIC-Chat
    folder. Each MIMIC-Chat run covers video, blank and blind (its Blind column); letter-likelihood scoring."""
    out_dir = Path(out_dir)
    run_dirs = []
    summaries = {}
    random_dir = out_dir / "runs" / "random"
    summaries["random"] = run_eval(build_adapter("random:0", name="Random"), bench_dir, random_dir,
                                   RunOptions(conditions=["video"], progress=False))
    run_dirs.append(random_dir)
    for name, folder in model_dirs.items():
        run_dir = out_dir / "runs" / name
        adapter = build_adapter(f"mimic-chat:{folder}", name=name, scoring="likelihood", batch_size=8)
        summaries[name] = run_eval(adapter, bench_dir, run_dir, RunOptions(conditions=["video", "blank", "blind"]))
        run_dirs.append(run_dir)
    paths = write_leaderboard(run_dirs, out_dir)
    return {"runs": [str(p) for p in run_dirs], "leaderboard": [str(p) for p in paths],
            "telemetry": {name: s.get("telemetry") for name, s in summaries.items()}}
