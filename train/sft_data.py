"""Training-evaluation isomorphic SFT data: the bench's own task specs, builder and prompts, on training videos only.

Each training video gets the seven MCQ formats (distractors from other training videos, letters balanced by the bench
builder, optionally shown under several of the bench's rotations so every answer appears under every letter) and
comment-generation rows whose targets are its top-liked real comments. The result is a `datasets` folder:
`<out>/train.parquet` (one row per example, with the absolute `video_path`) and `<out>/sft_meta.json` (counts).

Optionally the rows are written in training order (`curriculum_order`): easy-first warm-up blocks, then seeded shuffles
of every row. A language model trained from random weights needs that (#6). Reading a multiple-choice question means
finding the option that matches what was shown and copying the letter before it; a random model must learn that
pointing and the video's meaning at once, and neither gets a gradient before the other exists, so from video rows alone
its letters stayed at chance. A warm-up block may therefore show a share of its rows with the gold option's words in
the video slot (`slot_text`) instead of the video: pointing at a matching option is then learnt in a few hundred steps,
and the video rows mixed in next teach the projectors to fill the slot with the same meaning. (A pretrained LM, as in
the paper, can already read such questions and needs no warm-up.) Such data is meant for `train_sampling_strategy:
sequential` (see `configs/demo_tiny.yaml`).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mimic_bench.build import build_task_tables, comment_generation_table, load_records
from mimic_bench.embed import get_embedder
from mimic_bench.prompts import gold_letter, render_comment_prompt, render_mcq
from mimic_bench.tasks import COMMENT_GENERATION, TASK_NAMES
from mimic_data.io import atomic_write_json, write_parquet
from mimic_data.render import video_relpath
from mimic_data.select import OverlapError, check_no_overlap

SFT_FILE = "train.parquet"
META_FILE = "sft_meta.json"
SFT_SCHEMA = pa.schema([
    ("question_id", pa.string()),  # bench-style id, plus "@r<rotation>" / "@ref<rank>"
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("task", pa.string()),
    ("prompt", pa.string()),
    ("target", pa.string()),
    ("video_path", pa.string()),
    ("phase", pa.string()),  # "warmup<k>" (curriculum block k) or "epoch<k>"; "all" when the rows are unordered
    ("answer_text", pa.string()),  # the gold option's text (MCQ rows); null for comment rows
    ("slot_text", pa.string()),  # shown in the video slot instead of the video (warm-up rows only); null: the video
])
# (tasks, rows drawn from them, share of those rows shown with their answer text in the video slot)
WarmupBlock = tuple[Sequence[str], int, float]


def parse_warmup_block(text: str) -> WarmupBlock:
    """`cam_cat,cam_topic:6400:0.5` -> (("cam_cat", "cam_topic"), 6400, 0.5); the share defaults to 0."""
    parts = text.split(":")
    if len(parts) in (2, 3) and parts[0]:
        try:
            return tuple(parts[0].split(",")), int(parts[1]), float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:  # a count or share that is not a number
            pass
    raise ValueError(f"warm-up block {text!r} must look like TASK[,TASK…]:ROWS[:SLOT_TEXT_SHARE]")


def training_video_ids(world_dir: Path, max_videos: int = 0, seed: int = 0) -> list[str]:
    """Training-pool ids (zero overlap with the bench checked on the records), a seeded subset if max_videos > 0."""
    records = pq.read_table(world_dir / "records.parquet", columns=["video_id", "channel_id", "title", "platform"])
    splits = pq.read_table(world_dir / "splits.parquet")
    check_no_overlap(records, splits)
    ids = sorted(v for v, s in zip(splits["video_id"].to_pylist(), splits["split"].to_pylist(), strict=True)
                 if s == "train")
    if max_videos:
        ids = sorted(sorted(ids, key=lambda v: hashlib.sha256(f"{seed}|sft|{v}".encode()).hexdigest())[:max_videos])
    return ids


def bench_video_ids(bench_dir: Path) -> set[str]:
    """Every video a MIMIC-Bench folder asks about (manifest and every config)."""
    ids: set[str] = set()
    for path in sorted(bench_dir.glob("*.parquet")):
        if "video_id" in pq.read_schema(path).names:
            ids.update(pq.read_table(path, columns=["video_id"])["video_id"].to_pylist())
    if not ids:
        raise ValueError(f"{bench_dir} holds no bench parquet with a video_id column")
    return ids


def assert_no_bench_videos(video_ids, bench_dir: str | Path) -> None:
    leaked = sorted(set(video_ids) & bench_video_ids(Path(bench_dir)))
    if leaked:
        raise OverlapError(f"{len(leaked)} SFT videos are bench videos, e.g. {leaked[:3]}")


def sft_rows(tables: dict[str, pa.Table], comments: pa.Table, video_paths: dict[str, str], rotations: int = 1,
             comment_targets: int = 1) -> list[dict[str, Any]]:
    """One row per (MCQ question, rotation) and per (video, reference comment), rendered with the bench's prompts."""
    if not 1 <= rotations <= 4:
        raise ValueError(f"rotations must be 1..4, got {rotations}")
    rows = []
    for task in TASK_NAMES:
        for question in tables[task].to_pylist():
            for rotation in range(rotations):
                rows.append({
                    "question_id": f"{question['question_id']}@r{rotation}", "video_id": question["video_id"],
                    "platform": question["platform"], "task": task, "prompt": render_mcq(question, rotation),
                    "target": gold_letter(question, rotation), "video_path": video_paths[question["video_id"]],
                    "phase": "all", "answer_text": question["options"][question["answer_idx"]], "slot_text": None,
                })
    for item in comments.to_pylist():
        for rank, reference in enumerate(item["references"][:comment_targets], start=1):
            rows.append({
                "question_id": f"{item['question_id']}@ref{rank}", "video_id": item["video_id"],
                "platform": item["platform"], "task": COMMENT_GENERATION, "prompt": render_comment_prompt(item),
                "target": reference, "video_path": video_paths[item["video_id"]], "phase": "all",
                "answer_text": None, "slot_text": None,
            })
    return rows


def curriculum_order(rows: list[dict[str, Any]], warmup: Sequence[WarmupBlock], epochs: int,
                     seed: int) -> list[dict[str, Any]]:
    """Rows in training order: each warm-up block draws its count from its tasks' rows (seeded shuffles, cycled when
    the count exceeds them) and shows the given share of them (seeded draw) with `slot_text` = their answer text; then
    `epochs` seeded shuffles of every row, all with their video. Each row's `phase` names its block."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    rng = random.Random(seed)
    ordered = []
    for index, (tasks, count, slot_share) in enumerate(warmup, start=1):
        unknown = sorted(set(tasks) - set(TASK_NAMES))
        pool = [row for row in rows if row["task"] in set(tasks)]
        if unknown or not pool:
            raise ValueError(f"warm-up block {index}: no MCQ rows for tasks {list(tasks)} (unknown: {unknown})")
        if not 0 <= slot_share <= 1:
            raise ValueError(f"warm-up block {index}: slot-text share {slot_share} is outside [0, 1]")
        drawn = []
        while len(drawn) < count:
            drawn += rng.sample(pool, len(pool))
        ordered += [{**row, "phase": f"warmup{index}", "slot_text": row["answer_text"] if rng.random() < slot_share
                     else None} for row in drawn[:count]]
    for epoch in range(1, epochs + 1):
        ordered += [{**row, "phase": f"epoch{epoch}"} for row in rng.sample(rows, len(rows))]
    return ordered


def build_sft_data(world_dir: str | Path, videos_root: str | Path, out_dir: str | Path, *,
                   bench_dir: str | Path | None = None, seed: int = 0, max_videos: int = 0, rotations: int = 1,
                   comment_targets: int = 1, render_missing: bool = True, embedder: str = "hashing",
                   warmup: Sequence[WarmupBlock] = (), epochs: int = 0) -> Path:
    """Write `<out>/train.parquet` + `<out>/sft_meta.json`; returns out_dir.

    Missing synthetic videos are rendered into `videos_root` (world.parquet needed); with `render_missing=False` the
    videos without a file are left out and counted in the metadata. With `warmup` blocks or `epochs` > 0 the rows are
    written in training order (`curriculum_order`; `epochs` 0 then means 1); otherwise the trainer shuffles them.
    """
    world_dir, videos_root, out_dir = Path(world_dir), Path(videos_root).resolve(), Path(out_dir)
    ids = training_video_ids(world_dir, max_videos, seed)
    if bench_dir is not None:
        assert_no_bench_videos(ids, bench_dir)
    records = load_records(world_dir, ids)
    paths = {r["video_id"]: videos_root / video_relpath(r["platform"], r["video_id"]) for r in records}
    missing = [v for v, p in paths.items() if not p.exists()]
    if missing and render_missing:
        from mimic_data.synth import render

        render(world_dir, missing, videos_root)
        missing = []
    records = [r for r in records if r["video_id"] not in set(missing)]
    splits = pq.read_table(world_dir / "splits.parquet", columns=["video_id", "duplicate_group"]).to_pylist()
    tables = build_task_tables(records, records, embedder=get_embedder(embedder), seed=seed,
                               duplicate_groups={r["video_id"]: r["duplicate_group"] for r in splits})
    rows = sft_rows(tables, comment_generation_table(records), {v: str(p) for v, p in paths.items()}, rotations,
                    comment_targets)
    letters = Counter((r["task"], r["target"]) for r in rows if r["task"] != COMMENT_GENERATION)
    per_task = dict(sorted(Counter(r["task"] for r in rows).items()))
    unique_rows = len(rows)
    if warmup or epochs:
        rows = curriculum_order(rows, warmup, max(epochs, 1), seed)
    write_parquet(out_dir / SFT_FILE, pa.Table.from_pylist(rows, schema=SFT_SCHEMA))
    atomic_write_json(out_dir / META_FILE, {
        "seed": seed, "videos": len(records), "videos_without_file": len(missing), "rows": len(rows),
        "unique_rows": unique_rows, "ordered": bool(warmup or epochs),
        "rows_per_phase": dict(Counter(r["phase"] for r in rows)),
        "warmup": [{"tasks": list(tasks), "rows": count, "slot_text_share": share} for tasks, count, share in warmup],
        "slot_text_rows": sum(r["slot_text"] is not None for r in rows),
        "rotations": rotations, "comment_targets": comment_targets, "embedder": embedder,
        "rows_per_task": per_task,  # unique rows, as are the letter counts
        "letters_per_task": {t: {ltr: letters[(t, ltr)] for ltr in "ABCD"} for t in TASK_NAMES},
    })
    return out_dir
