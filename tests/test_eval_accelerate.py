"""A real `accelerate launch` with 2 processes (torchrun, gloo on CPU) shards `mimic eval run` by video and merges from
files: the merged samples and results equal a single-process run. Uses the seeded random adapter (no model)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from eval_helpers import build_bench


def _eval_command(bench: Path, out: Path) -> list[str]:
    return ["-m", "mimic_cli", "eval", "run", "--model", "random:3", "--bench", str(bench), "--out", str(out),
            "--conditions", "video,blank"]


def test_two_process_launch_equals_single_process(tmp_path):
    bench = build_bench(tmp_path / "bench", n_videos=6)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29547"}
    single = subprocess.run([sys.executable, *_eval_command(bench, tmp_path / "single")], capture_output=True,
                            text=True, timeout=240, env=env)
    assert single.returncode == 0, single.stderr[-2000:]
    accelerate = Path(sys.executable).with_name("accelerate")
    # `--cpu` multi-process launches go to mpirun; `--multi_gpu` without GPUs runs torchrun with gloo.
    launched = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                               "--mixed_precision", "no", "--dynamo_backend", "no",
                               *_eval_command(bench, tmp_path / "multi")],
                              capture_output=True, text=True, timeout=240, env=env)
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "multi").glob("telemetry.rank*.json")) == [
        "telemetry.rank0.json", "telemetry.rank1.json"]
    ranks = [json.loads((tmp_path / "multi" / f"telemetry.rank{r}.json").read_text())["samples"] for r in (0, 1)]
    assert sum(ranks) == 6 * 7 * 2 and min(ranks) > 0  # both processes did work, every sample once

    def samples(run):
        rows = [json.loads(line) for line in (tmp_path / run / "samples.jsonl").read_text().splitlines()]
        return sorted((r["question_id"], r["condition"], r["letter"]) for r in rows)

    assert samples("multi") == samples("single") and len(samples("single")) == 6 * 7 * 2
    results = [json.loads((tmp_path / run / "results.json").read_text()) for run in ("single", "multi")]
    assert results[0]["by_condition"] == results[1]["by_condition"]
