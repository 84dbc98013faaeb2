"""The append-only per-sample log: one fsynced JSON line per finished sample, keyed so a rerun skips it.

A sample's key hashes (question, condition, rotation, model, prompt, frames, generation settings): change any of them
and the sample is planned again; keep them and it is never repeated. Several writers (data-parallel ranks) each append to
their own file; readers take the union of every `samples*.jsonl` in the run folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mimic_data.io import append_jsonl, append_jsonl_rows, atomic_write_text, read_jsonl

from .fingerprint import fingerprint

# Statuses that settle a sample; anything else (e.g. "error") is retried on the next run.
SETTLED = {"ok", "missing_video", "corrupt_video"}


def sample_key(*, question_id: str, condition: str, rotation: int | None, model_fp: str, prompt_hash: str,
               frames_fp: str, gen_fp: str) -> str:
    return fingerprint([question_id, condition, rotation, model_fp, prompt_hash, frames_fp, gen_fp], length=24)


def log_files(run_dir: str | os.PathLike) -> list[Path]:
    return sorted(Path(run_dir).glob("samples*.jsonl"))


def repair_torn_tail(path: Path) -> None:
    """Cut a half-written last line (a kill mid-append) so the next append starts on a fresh line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        data = path.read_bytes()
        f.truncate(data.rfind(b"\n") + 1)
        f.flush()
        os.fsync(f.fileno())


def latest_rows_in(*paths: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """key -> its latest row; a settled row is never replaced by a later unsettled one."""
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        for row in read_jsonl(path):
            if "key" in row:
                previous = rows.get(row["key"])
                if previous is None or previous.get("status") not in SETTLED or row.get("status") in SETTLED:
                    rows[row["key"]] = row
    return rows


def latest_rows(run_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """latest_rows_in over every log file of a run folder."""
    return latest_rows_in(*log_files(run_dir))


class SampleLog:
    """Appends rows to one file of a run folder (its own per rank) after cutting a torn tail once."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        repair_torn_tail(self.path)

    def append(self, row: dict[str, Any]) -> None:
        append_jsonl(self.path, row)

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """One fsync per batch instead of per row: per-row fsync cost more than a tiny model's forward pass."""
        append_jsonl_rows(self.path, rows)


def merge_logs(run_dir: str | os.PathLike, keys: list[str] | None = None) -> Path:
    """Write samples.jsonl as the union of all log files (planned keys first, in plan order) and drop the shards.

    Call it only when no writer is running (single process, or every rank has finished).
    """
    import json

    run_dir = Path(run_dir)
    rows = latest_rows(run_dir)
    planned = [k for k in keys or [] if k in rows]
    order = planned + sorted(set(rows) - set(planned))
    lines = [json.dumps(rows[k], ensure_ascii=False, sort_keys=True) + "\n" for k in order]
    target = run_dir / "samples.jsonl"
    atomic_write_text(target, "".join(lines))
    for path in log_files(run_dir):
        if path != target:
            path.unlink()
    return target
