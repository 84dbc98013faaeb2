"""Frames for training: the project's sampler, sized for the model's tower, memoised per video across epochs."""

from __future__ import annotations

from typing import Any

import torch

from mimic_data.sampler import sample_frames


class VideoFrameLoader:
    """`loader(row)` -> {"spatial", "temporal"} uint8 frames of `row["video_path"]`, decoded once per video.

    Frames are resized to the tower's input side in the decoder, so the memo stays small (tiny preset: ~50 KB a video).
    A missing or corrupt file raises `mimic_data.sampler.VideoDecodeError` naming the path.
    """

    def __init__(self, config, memoise: bool = True):
        side = config.vision_config.image_size
        self.kwargs = {"spatial": config.spatial_num_frames, "temporal": config.temporal_num_frames,
                       "size": (side, side), "threads": 1}
        self.memo: dict[str, dict[str, torch.Tensor]] | None = {} if memoise else None

    def __call__(self, row: dict[str, Any]) -> dict[str, torch.Tensor]:
        path = row["video_path"]
        if self.memo is not None and path in self.memo:
            return self.memo[path]
        sampled = sample_frames(path, **self.kwargs)
        frames = {"spatial": sampled.spatial, "temporal": sampled.temporal}
        if self.memo is not None:
            self.memo[path] = frames
        return frames
