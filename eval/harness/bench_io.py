"""Read a MIMIC-Bench folder (one parquet per task config) into question rows grouped by video."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from mimic_bench.tasks import LETTERS
from mimic_bench.tasks import TASK_NAMES as MCQ_TASKS


class BenchError(ValueError):
    """A bench folder or row that cannot be evaluated; the message names the file or question."""


def load_task_rows(bench_dir: str | os.PathLike, tasks: list[str] | None = None) -> list[dict[str, Any]]:
    """All MCQ rows of the chosen tasks, in task order then file order."""
    bench_dir = Path(bench_dir)
    rows = []
    for task in tasks or MCQ_TASKS:
        if task not in MCQ_TASKS:
            raise BenchError(f"unknown task {task!r}; choose from {', '.join(MCQ_TASKS)}")
        path = bench_dir / f"{task}.parquet"
        if not path.is_file():
            raise BenchError(f"{path} is missing: is {bench_dir} a MIMIC-Bench folder (mimic bench release)?")
        for row in pq.read_table(path).to_pylist():
            if len(row["options"]) != len(LETTERS) or row["answer"] not in LETTERS:
                raise BenchError(f"{path.name}: question {row['question_id']} needs 4 options and a letter answer")
            rows.append(row)
    return rows


def load_comment_rows(bench_dir: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(bench_dir) / "comment_generation.parquet"
    if not path.is_file():
        raise BenchError(f"{path} is missing: is {bench_dir} a MIMIC-Bench folder (mimic bench release)?")
    return pq.read_table(path).to_pylist()


def video_path(bench_dir: str | os.PathLike, row: dict[str, Any]) -> Path | None:
    """The hydrated file of a row, or None when the release carries no file for it."""
    return Path(bench_dir) / row["file_name"] if row.get("file_name") else None


def group_by_video(rows: list[dict[str, Any]]) -> OrderedDict[str, list[dict[str, Any]]]:
    """Questions grouped by video (first-seen order), so each video is decoded once for all its questions."""
    groups: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for row in rows:
        groups.setdefault(row["video_id"], []).append(row)
    return groups
