"""SIMULATED study inputs and annotators (seeded), for the load test, tests, the demo and proxy validation.

Nothing here is a measurement of people: each source has a latent "human-likeness" in [0, 1], each item a small seeded
offset, each annotator a bias, noise and an attention level. Every file written here says `"simulated": true`.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from mimic_data.io import append_jsonl, write_parquet

from . import ATTENTION_SOURCE, HUMAN_SOURCE
from .sheet import ATTENTION_PASS

HUMAN_LATENT = 0.88
# SIMULATED latent human-likeness of five simulated models (spread like the paper's range), for load tests.
SIMULATED_MODEL_LATENTS = {"sim-describer": 0.05, "sim-baseline": 0.18, "sim-mid": 0.35, "sim-tuned": 0.62,
                           "sim-strong": 0.75}
_OBJECTS = ("cat", "skateboard", "guitar", "pancake", "drone", "puppy", "car", "wave", "cake", "bike")
_COLOURS = ("red", "blue", "green", "yellow", "purple", "orange")
_MOTIONS = ("spins around", "jumps over a box", "slides to the left", "falls down", "flies up", "rolls away")
_HUMAN_STYLE = (
    "lol the {obj} at the end 😂", "who else watched this like 5 times", "{obj} supremacy fr", "that {colour} {obj} tho",
    "bro the timing on that {obj} 💀", "ok but why is this so satisfying", "not me replaying the part where it {motion}",
    "my {obj} could never", "this is so underrated omg", "i need that {colour} {obj} asap", "POV: you see it {motion}",
    "the way it {motion} 😭😭", "10/10 would watch again", "this made my day honestly", "nah this is crazy",
)
_MODEL_STYLE = (
    "The video shows a {colour} {obj} that {motion}. It is an interesting and engaging video.",
    "In this video, a {colour} {obj} {motion}, which creates a visually appealing scene.",
    "This video features a {obj}. The {colour} color and the movement make it captivating for viewers.",
    "What a great video! The {obj} {motion} and the overall composition is very well done.",
    "The scene depicts a {colour} {obj}. Overall, the video is entertaining and well-edited.",
)


def _rng(*parts) -> random.Random:
    return random.Random(hashlib.sha256("|".join(map(str, parts)).encode()).digest())


def _scene(video_id: str) -> dict:
    r = _rng("scene", video_id)
    return {"obj": r.choice(_OBJECTS), "colour": r.choice(_COLOURS), "motion": r.choice(_MOTIONS)}


# The fixture bench's public references and its held-out study pool use disjoint templates, so no pool comment is
# ever also public (as in a real build, where `mimic bench build` ensures it).
_PUBLIC_STYLE, _POOL_STYLE = _HUMAN_STYLE[0::2], _HUMAN_STYLE[1::2]


def human_style_comment(video_id: str, r: random.Random) -> str:
    return r.choice(_HUMAN_STYLE).format(**_scene(video_id))


def _distinct_human_comments(video_id: str, templates: tuple[str, ...], n: int, r: random.Random) -> list[str]:
    return [t.format(**_scene(video_id)) for t in r.sample(templates, n)]


def model_style_comment(video_id: str, r: random.Random) -> str:
    return r.choice(_MODEL_STYLE).format(**_scene(video_id))


def _render_tiny_mp4(path: Path, colour_seed: int) -> None:
    import numpy as np

    from mimic_data.render import write_mp4

    r = random.Random(colour_seed)
    frames = np.broadcast_to(np.array([r.randrange(256) for _ in range(3)], dtype=np.uint8), (16, 64, 64, 3)).copy()
    for i in range(16):
        frames[i, :, (i * 4) % 64:(i * 4) % 64 + 8] = 255  # a moving bar so the clip visibly plays
    write_mp4(frames, path, fps=8)


def make_fixture_bench(bench_dir: str | os.PathLike, n_videos: int = 12, seed: int = 0, render_videos: bool = False,
                       data_dir: str | os.PathLike | None = None, n_train_videos: int = 40) -> Path:
    """A SIMULATED MIMIC-Bench comment table and its private study pool (in `default_study_pool_dir(bench_dir)`),
    optionally with a MIMIC-Data comments/splits folder, in the contract formats. Every video is a study video."""
    from mimic_bench.build import COMMENT_SCHEMA, STUDY_POOL_SCHEMA
    from mimic_bench.writer import STUDY_POOL_FILE, default_study_pool_dir

    bench_dir = Path(bench_dir)
    r = _rng("bench", seed)
    rows, pool = [], []
    for i in range(n_videos):
        video_id = f"sim{seed}v{i:04d}"
        platform = ("youtube", "tiktok")[i % 2]
        held_out = _distinct_human_comments(video_id, _POOL_STYLE, 5, r)
        refs = _distinct_human_comments(video_id, _PUBLIC_STYLE, 5, r)
        likes = sorted((int(10 ** r.uniform(1, 4)) for _ in range(10)), reverse=True)
        file_name = f"videos/{platform}/{video_id[-2:]}/{video_id}.mp4"
        if render_videos:
            _render_tiny_mp4(bench_dir / file_name, seed * 100003 + i)
        rows.append({"question_id": f"cg-{video_id}", "video_id": video_id, "platform": platform,
                     "prompt": "Watch the video and write a comment as a typical viewer would.",
                     "references": refs, "reference_likes": likes[5:], "file_name": file_name if render_videos else None})
        pool.append({"question_id": f"cg-{video_id}", "video_id": video_id, "platform": platform,
                     "comments": held_out, "like_counts": likes[:5], "ranks": [1, 2, 3, 4, 5]})
    write_parquet(bench_dir / "comment_generation.parquet", pa.Table.from_pylist(rows, schema=COMMENT_SCHEMA))
    write_parquet(default_study_pool_dir(bench_dir) / STUDY_POOL_FILE, pa.Table.from_pylist(pool,
                                                                                           schema=STUDY_POOL_SCHEMA))
    if data_dir is not None:
        comments, splits = [], []
        for row in rows:
            splits.append({"video_id": row["video_id"], "split": "bench"})
        for i in range(n_train_videos):
            video_id = f"sim{seed}t{i:04d}"
            splits.append({"video_id": video_id, "split": "train"})
            for rank in range(1, 9):
                comments.append({"video_id": video_id, "rank": rank, "text": human_style_comment(video_id, r),
                                 "like_count": int(10 ** r.uniform(0, 3)), "is_pinned": False})
        write_parquet(Path(data_dir) / "comments.parquet", pa.Table.from_pylist(comments))
        write_parquet(Path(data_dir) / "splits.parquet", pa.Table.from_pylist(splits))
    return bench_dir


def simulate_generations(bench_rows: list[dict], model_latents: dict[str, float], out_path: str | os.PathLike,
                         seed: int = 0) -> Path:
    """SIMULATED model comments: with probability = latent a human-style comment, else a descriptive restatement."""
    out_path = Path(out_path)
    out_path.unlink(missing_ok=True)
    for model, latent in sorted(model_latents.items()):
        r = _rng("gen", seed, model)
        for row in bench_rows:
            video_id = row["video_id"]
            text = human_style_comment(video_id, r) if r.random() < latent else model_style_comment(video_id, r)
            append_jsonl(out_path, {"video_id": video_id, "model": model, "text": text,
                                    "sampling": {"simulated": True, "latent": latent, "seed": seed}})
    return out_path


def default_latents(sources: list[str], seed: int) -> dict[str, float]:
    """SIMULATED per-source human-likeness: real comments high, each model a seeded draw."""
    latents = {HUMAN_SOURCE: HUMAN_LATENT}
    for source in sorted(set(sources) - {HUMAN_SOURCE, ATTENTION_SOURCE}):
        latents[source] = round(_rng("latent", seed, source).uniform(0.03, 0.7), 3)
    return latents


@dataclass(frozen=True)
class SimulatedAnnotator:
    """A SIMULATED annotator: adds `bias` to every item's human-likeness; `attentive=False` answers at random."""

    annotator_id: str
    bias: float
    noise: float
    attentive: bool
    seed: int

    @classmethod
    def draw(cls, annotator_id: str, seed: int, p_inattentive: float = 0.1) -> SimulatedAnnotator:
        r = _rng("annotator", seed, annotator_id)
        return cls(annotator_id, bias=r.gauss(0, 0.06), noise=abs(r.gauss(0.08, 0.03)),
                   attentive=r.random() >= p_inattentive, seed=seed)

    def judge(self, item_id: str, source: str, latents: dict[str, float]) -> dict:
        r = _rng("judge", self.seed, self.annotator_id, item_id)
        if not self.attentive:
            return {"judged_human": r.random() < 0.5, "realism": r.randrange(6)}
        if source == ATTENTION_SOURCE:
            return dict(ATTENTION_PASS) if r.random() < 0.97 else {"judged_human": True, "realism": 3}
        item_offset = _rng("item", self.seed, item_id).gauss(0, 0.12)  # shared by all annotators: items differ
        latent = min(1.0, max(0.0, latents[source] + item_offset))
        p_human = min(1.0, max(0.0, latent + self.bias + r.gauss(0, self.noise)))
        realism = 5 * latent + 4 * self.bias + r.gauss(0, 0.6)
        return {"judged_human": r.random() < p_human, "realism": int(min(5, max(0, math.floor(realism + 0.5))))}
