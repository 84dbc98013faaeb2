"""Frames for training: the model's frame policy, memoised per video across epochs."""

from __future__ import annotations

from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy


class VideoFrameLoader:
    """`loader(row)` -> {"spatial", "temporal"} uint8 frames of `row["video_path"]`, decoded once per video.

    Frames are resized to the tower's input side in the decoder, so the memo stays small (tiny preset: ~50 KB a video).
    A missing or corrupt file raises `VideoDecodeError` naming the path.
    """

    def __init__(self, config, memoise: bool = True):
        self.policy = FramePolicy.from_config(config)
        self.memo: dict[str, dict[str, torch.Tensor]] | None = {} if memoise else None

    def __call__(self, row: dict[str, Any]) -> dict[str, torch.Tensor]:
        path = row["video_path"]
        if self.memo is not None and path in self.memo:
            return self.memo[path]
        sampled = self.policy.sample(path, threads=1)
        frames = {"spatial": sampled.spatial, "temporal": sampled.temporal}
        if self.memo is not None:
            self.memo[path] = frames
        return frames
