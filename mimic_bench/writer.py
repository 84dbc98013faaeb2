"""`mimic bench build`: the MIMIC-Bench folder from a MIMIC-Data folder (records.parquet + splits.parquet).

Writes `<task>.parquet` per MCQ task, `comment_generation.parquet`, `videos.parquet` (file_name null: no videos are
shipped) and `build_stats.json` (counts, skipped videos by reason, style-match levels, timings). The human comments
of the blind comment study are held out into a separate, private folder (`study_pool.parquet`, read by `mimic study
build`, never released); the build proves that none of them appears in the public folder it wrote. The bench draws
distractors from the other bench videos: answer and distractors then come from the same interaction tier (no
high-vs-low-engagement style tell) and no training-pool text enters the bench. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mimic_data.io import atomic_write_json, write_parquet

from .build import (
    STUDY_POOL_VIDEOS,
    build_task_tables,
    choose_study_pool,
    comment_generation_table,
    load_records,
    strip_handles,
    study_pool_table,
    study_text_key,
    table_string_values,
    videos_table,
)
from .embed import get_embedder
from .tasks import COMMENT_GENERATION, TASK_NAMES

BUILD_STATS = "build_stats.json"
STUDY_POOL_FILE = "study_pool.parquet"
STUDY_POOL_STATS = "study_pool.json"
SUBSTRING_MIN_CHARS = 24  # a text this long found inside a longer public text counts as published too


class StudyPoolLeak(ValueError):
    """A held-out study comment was found in a public folder; the message names the text and the file."""


def default_study_pool_dir(bench_out_dir: str | Path) -> Path:
    """Where `mimic bench build` puts the private study pool: a sibling of the bench folder, never inside it."""
    bench_out_dir = Path(bench_out_dir).resolve()
    return bench_out_dir.with_name(f"{bench_out_dir.name}-study-pool")


def _public_values(folder: Path) -> Iterable[tuple[str, str]]:
    """(file name, text) for every string a public folder holds: parquet cells (inside lists and structs), JSON
    strings, and lines of text files. Video files and hidden files are skipped."""

    def json_strings(obj: Any) -> Iterable[str]:
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, dict):
            for key, value in obj.items():
                yield key
                yield from json_strings(value)
        elif isinstance(obj, list):
            for value in obj:
                yield from json_strings(value)

    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        name = str(path.relative_to(folder))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.columns:
                for value in table_string_values(column):
                    yield name, value
        elif path.suffix == ".json":
            for value in json_strings(json.loads(path.read_text(encoding="utf-8"))):
                yield name, value
        elif path.suffix in (".md", ".txt", ".jsonl", ".csv", ".yaml", ".yml"):
            for line in path.read_text(encoding="utf-8").splitlines():
                yield name, line


def find_in_public(texts: Iterable[str], folders: Iterable[str | os.PathLike]) -> dict[str, str]:
    """text -> the public file it was found in, for each text a public folder shows verbatim.

    Verbatim means equal to a public value under `study_text_key` (so case, punctuation, emoji and @handles do not
    hide a copy), or — for texts of at least SUBSTRING_MIN_CHARS characters — contained in a longer public value.
    """
    wanted = {study_text_key(t): t for t in texts if t.strip()}
    long_texts = {strip_handles(t).casefold(): t for t in wanted.values() if len(t) >= SUBSTRING_MIN_CHARS}
    found: dict[str, str] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"public folder {folder} does not exist")
        for name, value in _public_values(folder):
            original = wanted.get(study_text_key(value))
            if original is not None:
                found.setdefault(original, f"{folder}/{name}")
            if long_texts and len(value) > SUBSTRING_MIN_CHARS:
                low = value.casefold()
                for needle, original in long_texts.items():
                    if needle in low:
                        found.setdefault(original, f"{folder}/{name}")
    return found


def check_not_public(texts: Iterable[str], folders: Iterable[str | os.PathLike], what: str) -> None:
    """Raise StudyPoolLeak (one line: count, first text, file) when any text is found in a public folder."""
    found = find_in_public(texts, folders)
    if found:
        text, where = sorted(found.items())[0]
        raise StudyPoolLeak(f"{len(found)} {what} found verbatim in public files, e.g. {text!r} in {where}")


def build_bench(data_dir: str | Path, out_dir: str | Path, seed: int = 0, embedder: str = "minilm",
                study_pool_dir: str | Path | None = None, study_videos: int = STUDY_POOL_VIDEOS) -> dict[str, Any]:
    """Build every config of the bench and the private study pool (default: `default_study_pool_dir(out_dir)`);
    returns the build stats (also written to build_stats.json)."""
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    splits = pq.read_table(data_dir / "splits.parquet").to_pylist()
    bench_ids = [r["video_id"] for r in splits if r["split"] == "bench"]
    if not bench_ids:
        raise ValueError(f"{data_dir}/splits.parquet has no bench videos; run `mimic data select` first")
    records = load_records(data_dir, bench_ids)
    loaded = time.perf_counter()
    stats: dict[str, Any] = {}
    tables = build_task_tables(records, records, embedder=get_embedder(embedder), seed=seed,
                               duplicate_groups={r["video_id"]: r["duplicate_group"] for r in splits}, stats=stats)
    for task in TASK_NAMES:
        write_parquet(out_dir / f"{task}.parquet", tables[task])
    pool = choose_study_pool(records, tables.values(), seed, n_videos=study_videos)
    generation = comment_generation_table(records, pool)
    write_parquet(out_dir / f"{COMMENT_GENERATION}.parquet", generation)
    write_parquet(out_dir / "videos.parquet", videos_table(records, {r["video_id"]: r["tier"] for r in splits}))
    pool_dir = Path(study_pool_dir) if study_pool_dir is not None else default_study_pool_dir(out_dir)
    if pool_dir.resolve() == out_dir.resolve() or out_dir.resolve() in pool_dir.resolve().parents:
        raise ValueError(f"study pool folder {pool_dir} is inside the public bench folder {out_dir}")
    pool_texts = [c["text"] for comments in pool.values() for c in comments]
    # The proof that the study stays blind: no held-out comment is anywhere in the public folder just written.
    check_not_public(pool_texts, [out_dir], "held-out study comments")
    pool_stats = {"videos": len(pool), "comments": len(pool_texts), "checked_not_in_public_configs": True}
    write_parquet(pool_dir / STUDY_POOL_FILE, study_pool_table(records, pool))
    atomic_write_json(pool_dir / STUDY_POOL_STATS, {**pool_stats, "seed": seed, "bench_videos": len(records)})
    report = {"seed": seed, "embedder": embedder, "bench_videos": len(records), "tasks": stats,
              "comment_generation_items": len(generation), "study_pool": pool_stats,
              "seconds": {"load": round(loaded - started, 2), "total": round(time.perf_counter() - started, 2)}}
    atomic_write_json(out_dir / BUILD_STATS, report)
    return report
