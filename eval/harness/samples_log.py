"""The append-only per-sample log (a `mimic_data.io.JsonlLedger`): one fsynced JSON line per finished sample, keyed so
a rerun skips it.

A sample's key hashes (question, condition, rotation, model, prompt, frames, generation settings): change any of them
and the sample is planned again; keep them and it is never repeated. Several writers (data-parallel ranks) each append to
their own file; readers take the union of every `samples*.jsonl` in the run folder.
"""

from __future__ import annotations

import os
from itertools import chain
from pathlib import Path
from typing import Any

from mimic_data.io import JsonlLedger, atomic_write_text, latest_by_key

from .fingerprint import fingerprint

# Statuses that settle a sample; anything else (e.g. "error") is retried on the next run.
SETTLED = {"ok", "missing_video", "corrupt_video"}


def sample_key(*, question_id: str, condition: str, rotation: int | None, model_fp: str, prompt_hash: str,
               frames_fp: str, gen_fp: str) -> str:
    return fingerprint([question_id, condition, rotation, model_fp, prompt_hash, frames_fp, gen_fp], length=24)


def log_files(run_dir: str | os.PathLike) -> list[Path]:
    return sorted(Path(run_dir).glob("samples*.jsonl"))


def latest_rows_in(*paths: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """key -> its latest row; a settled row is never replaced by a later unsettled one."""
    rows = chain.from_iterable(JsonlLedger(path) for path in paths)
    return latest_by_key(rows, key=lambda row: row.get("key"), replaces=_settled_stays)


def _settled_stays(current: dict[str, Any], row: dict[str, Any]) -> bool:
    return current.get("status") not in SETTLED or row.get("status") in SETTLED


def latest_rows(run_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """latest_rows_in over every log file of a run folder."""
    return latest_rows_in(*log_files(run_dir))


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
