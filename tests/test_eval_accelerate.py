"""A real `accelerate launch` with 2 processes (torchrun, gloo on CPU) shards `mimic eval run` by video and merges from
files: the merged samples and results equal a single-process run. With the seeded random adapter (no model), and with
the hf: adapter on a TINY RANDOM Qwen2.5-VL (each rank loads it on its own device, here the CPU)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from eval_helpers import build_bench


def _eval_command(bench: Path, out: Path, model: str = "random:3", *extra: str) -> list[str]:
    return ["-m", "mimic_cli", "eval", "run", "--model", model, "--bench", str(bench), "--out", str(out),
            "--conditions", "video,blank", *extra]


def _single_and_two_process_runs(tmp_path: Path, command: list[str], port: int) -> None:
    """Run `python <command>` in one process into tmp_path/single, then under a 2-process launch into tmp_path/multi
    (the command's --out is the placeholder OUT)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": str(port)}

    def out(run):
        return [str(tmp_path / run) if arg == "OUT" else arg for arg in command]

    single = subprocess.run([sys.executable, *out("single")], capture_output=True, text=True, timeout=240, env=env)
    assert single.returncode == 0, single.stderr[-2000:]
    accelerate = Path(sys.executable).with_name("accelerate")
    # `--cpu` multi-process launches go to mpirun; `--multi_gpu` without GPUs runs torchrun with gloo.
    launched = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                               "--mixed_precision", "no", "--dynamo_backend", "no", *out("multi")],
                              capture_output=True, text=True, timeout=240, env=env)
    assert launched.returncode == 0, launched.stderr[-2000:]


def test_two_process_launch_equals_single_process(tmp_path):
    bench = build_bench(tmp_path / "bench", n_videos=6)
    _single_and_two_process_runs(tmp_path, _eval_command(bench, Path("OUT")), port=29547)
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


def test_two_process_launch_of_an_hf_model_equals_single_process(tmp_path):
    from eval_helpers import save_tiny_qwen25_vl

    bench = build_bench(tmp_path / "bench", n_videos=4, tasks=("cam_tag", "ciu_title"))
    model = save_tiny_qwen25_vl(tmp_path / "qwen")
    command = _eval_command(bench, Path("OUT"), f"hf:{model}", "--scoring", "likelihood", "--num-frames", "4",
                            "--tasks", "cam_tag,ciu_title")
    _single_and_two_process_runs(tmp_path, command, port=29548)
    ranks = [json.loads((tmp_path / "multi" / f"telemetry.rank{r}.json").read_text())["samples"] for r in (0, 1)]
    assert sum(ranks) == 4 * 2 * 2 and min(ranks) > 0

    def samples(run):
        rows = [json.loads(line) for line in (tmp_path / run / "samples.jsonl").read_text().splitlines()]
        return sorted((r["question_id"], r["condition"], r["letter"], tuple(r["letter_scores"])) for r in rows)

    assert samples("multi") == samples("single") and len(samples("single")) == 4 * 2 * 2
    assert len({scores for *_, scores in samples("single")}) > 4  # the model's own scores, not one repeated row
    results = [json.loads((tmp_path / run / "results.json").read_text()) for run in ("single", "multi")]
    assert results[0]["by_condition"] == results[1]["by_condition"]
