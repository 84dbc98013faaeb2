"""A tiny MIMIC-Bench folder built in tmp_path to the release contract (2 platforms, real H.264 mp4s), for eval tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from mimic_data.io import write_parquet
from mimic_data.render import video_relpath, write_mp4

TASKS = ("ciu_title", "ciu_desc", "cam_tag", "cam_topic", "cam_cat", "uiu_match", "uiu_pop")
AXES = {"ciu_title": "CIU", "ciu_desc": "CIU", "cam_tag": "CAM", "cam_topic": "CAM", "cam_cat": "CAM",
        "uiu_match": "UIU", "uiu_pop": "UIU"}
COLOURS = ["red", "blue", "green", "yellow"]


def video_ids(n_videos: int) -> list[str]:
    return [f"v{index:03d}x" for index in range(n_videos)]


def build_bench(root: Path, n_videos: int = 4, tasks=TASKS, frames: int = 24, seed: int = 0,
                with_videos: bool = True) -> Path:
    """Each video is a flat colour; the gold option of every question names that colour (learnable from pixels)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    videos = []
    for index, vid in enumerate(video_ids(n_videos)):
        platform = "youtube" if index % 2 == 0 else "tiktok"
        rel = video_relpath(platform, vid)
        if with_videos:
            clip = np.zeros((frames, 48, 64, 3), dtype=np.uint8)
            clip[..., index % 3] = 200
            clip[:, :, : 8 + index] = rng.integers(0, 255, 3, dtype=np.uint8)
            write_mp4(clip, root / rel, fps=8)
        videos.append({"video_id": vid, "platform": platform, "file_name": rel if with_videos else None,
                       "colour": COLOURS[index % 3]})
    for task in tasks:
        rows = []
        for index, video in enumerate(videos):
            answer_idx = (index + len(task)) % 4
            options = [f"{task} option {k} {COLOURS[(index + k + 1) % 4]}" for k in range(4)]
            options[answer_idx] = f"{task} gold {video['colour']}"
            rows.append({
                "question_id": f"{task}-{video['video_id']}", "video_id": video["video_id"],
                "platform": video["platform"], "task": task, "axis": AXES[task], "prompt_version": "v1",
                "question": f"Select the most appropriate {task.split('_')[1]} based on the video.",
                "options": options, "answer": "ABCD"[answer_idx], "answer_idx": answer_idx,
                "rotations": [[(i + r) % 4 for i in range(4)] for r in range(4)],
                "distractor_video_ids": [], "file_name": video["file_name"],
            })
        write_parquet(root / f"{task}.parquet", pa.Table.from_pylist(rows))
    comment_rows = [{"question_id": f"cg-{v['video_id']}", "video_id": v["video_id"], "platform": v["platform"],
                     "prompt": "Write a comment on this video as a viewer would.",
                     "references": ["so good", "wow"], "reference_likes": [10, 5], "file_name": v["file_name"]}
                    for v in videos]
    write_parquet(root / "comment_generation.parquet", pa.Table.from_pylist(comment_rows))
    write_parquet(root / "videos.parquet", pa.Table.from_pylist([
        {"video_id": v["video_id"], "platform": v["platform"], "url": f"https://synthetic.invalid/{v['video_id']}.mp4",
         "duration_s": frames / 8, "width": 64, "height": 48, "tier": "top2", "file_name": v["file_name"]}
        for v in videos]))
    return root
