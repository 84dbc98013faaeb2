"""Helpers for the training tests: SFT rows with random frames and a tiny random MIMIC-Chat run config."""

import zlib
from pathlib import Path

import numpy as np
import torch

from mimic_train.config import load_config

PROMPTS = [
    "Based on the video, select the title its creator gave it.\nA. red ball rolls left\nB. blue box rises\n"
    "C. green kite falls\nD. pink ring grows\nAnswer with the option's letter (A, B, C or D) only.",
    "Watch the video and write one comment about it as a real viewer of this platform would.",
]


def sft_rows(n: int = 12) -> list[dict]:
    """MCQ rows (letter targets) and comment rows (free text); video_path names one of 3 fake videos."""
    rows = []
    for i in range(n):
        comment = i % 3 == 2
        rows.append({
            "question_id": f"q{i}", "video_id": f"v{i % 3}", "platform": "youtube",
            "task": "comment_generation" if comment else "ciu_title",
            "prompt": PROMPTS[1] if comment else PROMPTS[0],
            "target": "love the red ball lol" if comment else "ABCD"[i % 4],
            "video_path": f"v{i % 3}",
        })
    return rows


class RandomFrames:
    """Frame loader returning fixed random uint8 frames per video path (tiny preset: 8 spatial, 16 temporal, 32x32)."""

    def __init__(self, spatial: int = 8, temporal: int = 16, side: int = 32):
        self.shape = (spatial, temporal, side)

    def __call__(self, row):
        spatial, temporal, side = self.shape
        rng = np.random.default_rng(zlib.crc32(row["video_path"].encode()))
        return {"spatial": torch.from_numpy(rng.integers(0, 256, (spatial, side, side, 3), dtype=np.uint8)),
                "temporal": torch.from_numpy(rng.integers(0, 256, (temporal, side, side, 3), dtype=np.uint8))}


def tiny_run_config(out_dir: Path, *overrides: str, lora: bool = True) -> dict:
    """A tiny random MIMIC-Chat run (random weights: only wiring and bookkeeping are meaningful)."""
    return load_config(None, [
        f"lora.enabled={str(lora).lower()}", "model.vocab_size=400", "model.freeze_language_model=true",
        "training.per_device_train_batch_size=4", "training.learning_rate=1e-2", "training.logging_steps=1",
        "training.max_steps=2", "training.save_steps=1000", "training.max_length=256", "training.warmup_steps=0",
        "training.lr_scheduler_type=constant", "training.disable_tqdm=true", *overrides,
    ], sft_data=str(out_dir / "unused"), out_dir=str(out_dir))
