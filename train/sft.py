"""`run_sft(config)`: TRL SFTTrainer on MIMIC-Chat with the video collator, optional LoRA, checkpoints and resume."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

from mimic_data.io import append_jsonl, atomic_write_json

LOG_FILE = "train_log.jsonl"  # one line per logging step, appended (the learning curve)
SUMMARY_FILE = "train_summary.json"
FINAL_DIR = "final"


def load_sft_dataset(sft_dir: str | Path):
    from datasets import load_dataset

    from mimic_train.sft_data import SFT_FILE

    path = Path(sft_dir) / SFT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build the SFT data with `mimic train data` first")
    return load_dataset("parquet", data_files={"train": str(path)}, split="train")


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _log_callback(run_dir: Path):
    from transformers import TrainerCallback

    class AppendLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and logs:
                append_jsonl(run_dir / LOG_FILE, {"step": state.global_step, "epoch": state.epoch, **logs})

    return AppendLog()


def _time_limit_callback(minutes: float):
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.deadline = time.monotonic() + 60 * minutes

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() >= self.deadline:
                control.should_training_stop = True
                control.should_save = True

    return StopAfter()


def build_trainer(config: dict, train_dataset=None, frame_loader=None):
    """The SFTTrainer of a run (model built or reloaded from `<run>/base`); `frame_loader` replaces the video decoder."""
    from accelerate import PartialState
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from mimic_train.collator import SFTCollator
    from mimic_train.frames import VideoFrameLoader
    from mimic_train.lora import lora_config
    from mimic_train.model_init import initial_model

    run_dir = Path(config["out_dir"])
    set_seed(config["seed"])
    dataset = train_dataset if train_dataset is not None else load_sft_dataset(config["sft_data"])
    texts = list(dataset["prompt"]) + list(dataset["target"])
    training = dict(config["training"])
    max_length = training.pop("max_length")
    args = SFTConfig(
        output_dir=str(run_dir),
        seed=config["seed"],
        data_seed=config["seed"],
        remove_unused_columns=False,  # the collator needs prompt/target/video_path
        dataset_kwargs={"skip_prepare_dataset": True},  # TRL does not know video rows; the collator tokenises
        max_length=max_length,
        use_cpu=not _has_accelerator(),
        **training,
    )
    # Rank 0 builds and saves <run>/base first; the other ranks then load the same weights from it. The state is a
    # singleton: it must be created with the trainer's cpu flag, or a CPU launch would not join the gloo group.
    with PartialState(cpu=args.use_cpu).main_process_first():
        model, processor = initial_model(config["model"], run_dir, texts, config["seed"])
    peft_config = lora_config(config["lora"], model.config.fusion_mode) if config["lora"]["enabled"] else None
    collator = SFTCollator(processor, frame_loader or VideoFrameLoader(model.config), max_length=max_length)
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=[_log_callback(run_dir)]
        + ([_time_limit_callback(config["max_train_minutes"])] if config["max_train_minutes"] else []),
    )


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def run_sft(config: dict, resume: str | bool = "auto", frame_loader=None) -> Path:
    """Train and save `<run>/final`; resume: "auto" (latest checkpoint if any), a checkpoint path, or False."""
    from mimic_train.lora import trainable_summary

    run_dir = Path(config["out_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(config, frame_loader=frame_loader)
    if trainer.is_world_process_zero():
        atomic_write_json(run_dir / "train_config.json", config)
    checkpoint = latest_checkpoint(run_dir) if resume == "auto" else (resume or None)
    if trainer.is_world_process_zero():
        print(trainable_summary(trainer.model))
        if checkpoint:
            print(f"resuming from {checkpoint}")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall_s = time.perf_counter() - started
    trainer.save_model(str(run_dir / FINAL_DIR))
    if trainer.is_world_process_zero():
        losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
        atomic_write_json(run_dir / SUMMARY_FILE, {
            "global_step": trainer.state.global_step,
            "world_size": trainer.args.world_size,
            "train_loss": result.training_loss,
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "wall_s": round(wall_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "resumed_from": str(checkpoint) if checkpoint else None,
            "lora": bool(config["lora"]["enabled"]),
        })
        print(json.dumps({"final": str(run_dir / FINAL_DIR), "wall_s": round(wall_s, 1)}))
    return run_dir / FINAL_DIR
