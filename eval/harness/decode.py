"""Decode each video once, ahead of the model, in background threads; derive the condition's frames from it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy, VideoDecodeError

CONDITIONS = ("video", "blind", "single_frame", "blank")


PIXELS = ("spatial", "temporal")  # the frame tensors of a frames dict; "times" holds their metadata


@dataclass
class DecodedVideo:
    video_id: str
    # {"spatial": [S,h,w,3], "temporal": [T,h,w,3]} uint8, "times": {"spatial": [s], "temporal": [s], "duration_s",
    # "num_frames"} (seconds from the first frame, for processors that place frames in time); None on failure
    frames: dict[str, Any] | None
    error: str | None
    decode_ms: float
    decoder: str | None = None
    indices: dict[str, list[int]] | None = None
    distinct_frames: int | None = None  # different frames of the video among them (a short clip repeats frames)
    frame_note: str | None = None  # the sampler's words when frames repeat, else None


def decode_one(video_id: str, path: Path | None, policy: FramePolicy, threads: int = 1) -> DecodedVideo:
    start = time.perf_counter()
    if path is None:
        return DecodedVideo(video_id, None, "missing_video: no file in the bench folder (not hydrated)", 0.0)
    try:
        sampled = policy.sample(path, threads=threads)
    except VideoDecodeError as error:
        reason = "missing_video" if not Path(path).exists() else "corrupt_video"
        return DecodedVideo(video_id, None, f"{reason}: {error}", (time.perf_counter() - start) * 1000)
    times = {"spatial": sampled.spatial_times, "temporal": sampled.temporal_times, "duration_s": sampled.duration_s,
             "num_frames": sampled.num_frames}
    frames = {"spatial": sampled.spatial, "temporal": sampled.temporal, "times": times}
    indices = {"spatial": list(map(int, sampled.spatial_indices)), "temporal": list(map(int, sampled.temporal_indices))}
    return DecodedVideo(video_id, frames, None, (time.perf_counter() - start) * 1000, sampled.decoder, indices,
                        sampled.distinct_frames, sampled.shortfall())


def prefetch(jobs: Iterable[tuple[str, Path | None, bool]], policy: FramePolicy | None, workers: int = 1,
             ahead: int = 4, threads: int = 1) -> Iterator[DecodedVideo]:
    """Yield decoded videos in job order while up to `ahead` later ones decode in `workers` background threads.

    A job is (video_id, path, needs_frames); jobs that need no frames (blind only, or an adapter without a frame
    policy) are passed through undecoded. `threads` are the decoder's own threads per video.
    """
    jobs = list(jobs)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="mimic-decode") as pool:
        pending = []
        next_job = 0
        while next_job < len(jobs) or pending:
            while next_job < len(jobs) and len(pending) < max(1, ahead):
                video_id, path, needs_frames = jobs[next_job]
                if needs_frames and policy is not None:
                    pending.append(pool.submit(decode_one, video_id, path, policy, threads))
                else:
                    pending.append(_done(DecodedVideo(video_id, None, None, 0.0)))
                next_job += 1
            yield pending.pop(0).result()


def _done(value: DecodedVideo) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def condition_frames(frames: dict[str, Any] | None, condition: str) -> dict[str, Any] | None:
    """The frames a model sees under a condition: blind -> none, blank -> zeros, single_frame -> middle frame x N
    (its time too). Times, where present, stay with the frames they describe."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    if condition == "blind" or frames is None:
        return None
    if condition == "video":
        return frames
    if condition == "blank":
        return {name: torch.zeros_like(value) if name in PIXELS else value for name, value in frames.items()}
    middle_row = frames["temporal"].shape[0] // 2
    middle = frames["temporal"][middle_row]
    single = {name: middle.unsqueeze(0).expand_as(frames[name]).contiguous() for name in PIXELS}
    if "times" in frames:
        middle_time = frames["times"]["temporal"][middle_row]
        single["times"] = {**frames["times"], **{name: [middle_time] * len(frames["times"][name]) for name in PIXELS}}
    return single
