"""`accelerate launch --num_processes 2 --cpu` (DDP over gloo) runs `mimic train sft` for a few steps on real videos.

A tiny random MIMIC-Chat on a tiny synthetic world: only the distributed wiring is tested, not what is learned.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from mimic_data.io import write_parquet
from mimic_data.select import SelectionConfig, select_splits
from mimic_data.synth import synthesize
from mimic_train.sft import FINAL_DIR, LOG_FILE, SUMMARY_FILE
from mimic_train.sft_data import build_sft_data


def test_two_process_cpu_ddp_trains_and_saves(tmp_path):
    synthesize(tmp_path / "world", n=200, seed=5)
    records = pq.read_table(tmp_path / "world" / "records.parquet")
    write_parquet(tmp_path / "world" / "splits.parquet", select_splits(records, SelectionConfig(bench_size=20)))
    sft = build_sft_data(tmp_path / "world", tmp_path / "videos", tmp_path / "sft", max_videos=6)
    run = tmp_path / "run"
    accelerate = Path(sys.executable).with_name("accelerate")
    settings = ["--use_peft", "true", "--vocab_size", "400", "--max_steps", "2", "--logging_steps", "1",
                "--per_device_train_batch_size", "2", "--save_steps", "1000", "--max_length", "512",
                "--disable_tqdm", "true"]
    # accelerate routes `--cpu` multi-process launches to mpirun; `--multi_gpu` on a machine without GPUs runs torchrun,
    # and each rank then joins a gloo process group on the CPU.
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "mimic_cli", "train", "sft",
               "--sft_data", str(sft), "--output_dir", str(run), *settings]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": "29531"}
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)
    assert completed.returncode == 0, completed.stderr[-4000:]
    summary = json.loads((run / SUMMARY_FILE).read_text())
    assert summary["global_step"] == 2 and summary["world_size"] == 2
    assert (run / FINAL_DIR / "adapter_model.safetensors").exists()
    # Logged once (by rank 0), not once per process: two step logs plus the final summary line.
    logged_steps = [json.loads(line)["step"] for line in (run / LOG_FILE).read_text().splitlines()]
    assert logged_steps == [1, 2, 2]
    assert "trainable parameters:" in completed.stdout and completed.stdout.count("trainable parameters:") == 1


def test_gpu_launch_configs_agree_with_the_paper_recipe(tmp_path, capsys):
    import yaml

    from mimic_train.sft import effective_batch, parse_recipe

    train_dir = Path(__file__).parents[1] / "train"
    recipe = parse_recipe(["--config", str(train_dir / "configs" / "paper_lora.yaml"), "--model_name_or_path", "tiny",
                           "--output_dir", str(tmp_path)])
    training = recipe.training
    assert recipe.model.dtype == "bfloat16" and recipe.model.attn_implementation == "sdpa" and training.bf16
    launchers = {path.stem: yaml.safe_load(path.read_text()) for path in (train_dir / "accelerate").glob("*.yaml")}
    assert {"deepspeed_zero2", "deepspeed_zero3", "fsdp"} <= set(launchers)
    for name, launcher in launchers.items():
        assert launcher["mixed_precision"] == "bf16", name
        deepspeed = launcher.get("deepspeed_config")
        if deepspeed:  # the Trainer raises when DeepSpeed's values differ from its arguments
            assert deepspeed["gradient_accumulation_steps"] == training.gradient_accumulation_steps == 8, name
            assert deepspeed["gradient_clipping"] == training.max_grad_norm, name
    assert launchers["deepspeed_zero3"]["deepspeed_config"]["zero_stage"] == 3
    assert launchers["fsdp"]["fsdp_config"]["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert effective_batch(training) == "effective batch 32 = 4 per device x 8 accumulation steps x 1 processes"
