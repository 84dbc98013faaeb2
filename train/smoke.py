"""A tiny random training run, for wiring tests (tests/) and throughput measurements (perf/train.py).

Random weights and random frames: only the wiring and the bookkeeping mean anything, never the learned values.
"""

import zlib
from pathlib import Path

import numpy as np
import torch

from mimic_train.sft import Recipe, parse_recipe

PROMPTS = [
    "Based on the video, select the title its creator gave it.\nA. red ball rolls left\nB. blue box rises\n"
    "C. green kite falls\nD. pink ring grows\nAnswer with the option's letter (A, B, C or D) only.",
    "Watch the video and write one comment about it as a real viewer of this platform would.",
]
# The tiny run's settings, as `mimic train sft` flags (flags given to `tiny_recipe` come after them and win).
TINY_FLAGS = ["--vocab_size", "400", "--freeze_language_model", "true", "--per_device_train_batch_size", "4",
              "--learning_rate", "1e-2", "--logging_steps", "1", "--max_steps", "2", "--save_steps", "1000",
              "--max_length", "256", "--warmup_steps", "0", "--lr_scheduler_type", "constant", "--disable_tqdm", "true"]


def smoke_rows(n: int = 12) -> list[dict]:
    """SFT rows: MCQ rows (letter targets) and comment rows (free text); video_path names one of 3 fake videos."""
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


def tiny_recipe(out_dir: Path, *flags: str, use_peft: bool = True) -> Recipe:
    """The arguments of a tiny random MIMIC-Chat run in `out_dir`; `flags` are `mimic train sft` flags."""
    return parse_recipe(["--use_peft", str(use_peft).lower(), *TINY_FLAGS, "--sft_data", str(Path(out_dir) / "unused"),
                         "--output_dir", str(out_dir), *flags])
