"""After hydration: `materialize` points every config's `file_name` at the videos that are there, and `report` states
exactly which subset is available (counts by status and platform, coverage per config, a sha256 of the sorted ids)."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, write_parquet
from .download import LEDGER_DIR, file_state, is_available, latest_rows, read_ledgers

REPORT_NAME = "report.json"


def hydration_folder(root: str | os.PathLike) -> Path:
    """root, when it is a folder with a hydration manifest (videos.parquet) or ledgers; else a FileNotFoundError."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    if not (root / "videos.parquet").is_file() and not any((root / LEDGER_DIR).glob("ledger-*.jsonl")):
        raise FileNotFoundError(f"{root}: not a hydration folder (no videos.parquet and no {LEDGER_DIR}/ledgers)")
    return root


def available_ids(root: str | os.PathLike) -> dict[str, str]:
    """video_id -> relative path, for videos whose latest ledger row is ok and whose file is intact (sha256)."""
    root = hydration_folder(root)
    return {vid: row["relpath"] for vid, row in latest_rows(root).items() if is_available(root, row)}


def ids_sha256(ids) -> str:
    """sha256 of the sorted ids joined by newlines: the fingerprint of an evaluated subset."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def _config_tables(root: Path):
    """(name, table) of every parquet config at the folder's top level that has video_id and file_name columns."""
    import pyarrow.parquet as pq

    for path in sorted(root.glob("*.parquet")):
        names = pq.read_schema(path).names
        if "video_id" in names and "file_name" in names:
            yield path, pq.read_table(path)


def materialize(root: str | os.PathLike) -> dict[str, int]:
    """Rewrite `file_name` in every config parquet of root: the relative video path when available, else null.

    Returns {config file name: rows with a video}. The README's videofolder YAML then makes
    `load_dataset(root, cfg, split="test")` yield a `video` column (None where missing).
    """
    import pyarrow as pa

    root = Path(root)
    available = available_ids(root)
    counts = {}
    for path, table in _config_tables(root):
        file_names = pa.array([available.get(vid) for vid in table["video_id"].to_pylist()], type=pa.string())
        column = table.schema.get_field_index("file_name")
        table = table.set_column(column, pa.field("file_name", pa.string()), file_names)
        write_parquet(path, table)
        counts[path.name] = sum(name is not None for name in file_names.to_pylist())
    return counts


def report(root: str | os.PathLike, manifest: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Merge all shard ledgers; write ROOT/hydration/report.json and return it.

    manifest (rows with video_id, platform) adds the never-attempted videos as `pending`.
    """
    root = hydration_folder(root)
    latest = latest_rows(root)
    # an ok row whose file is gone is "missing_file", one whose file changed since its download is "damaged"
    status = {vid: file_state(root, row) if row["status"] == "ok" else row["status"] for vid, row in latest.items()}
    available = {vid for vid, st in status.items() if st == "ok"}
    platforms = {vid: row["platform"] for vid, row in latest.items()}
    for row in manifest or ():
        platforms.setdefault(row["video_id"], row["platform"])
        status.setdefault(row["video_id"], "pending")
    by_platform: dict[str, Counter] = {}
    for vid, st in status.items():
        by_platform.setdefault(platforms[vid], Counter())[st] += 1
    transient = {vid for vid, row in latest.items() if vid not in available and row.get("transient")}
    coverage = {}
    for path, table in _config_tables(root):
        ids = table["video_id"].to_pylist()
        with_video = sum(vid in available for vid in ids)
        coverage[path.stem] = {"rows": len(ids), "with_video": with_video,
                               "share": round(with_video / len(ids), 4) if ids else 0.0}
    result = {
        "videos": len(status),
        "available": len(available),
        "by_status": dict(sorted(Counter(status.values()).items())),
        "by_platform": {p: dict(sorted(c.items())) for p, c in sorted(by_platform.items())},
        "retryable": len(transient),
        "attempts": len(read_ledgers(root)),
        "coverage": coverage,
        "available_ids_sha256": ids_sha256(available),
    }
    atomic_write_json(root / LEDGER_DIR / REPORT_NAME, result)
    return result


def format_report(result: dict[str, Any]) -> str:
    lines = [f"{result['available']}/{result['videos']} videos available; by status {result['by_status']}",
             *(f"  {platform}: {counts}" for platform, counts in result["by_platform"].items()),
             *(f"  coverage {cfg}: {c['with_video']}/{c['rows']} ({c['share']:.1%})" for cfg, c in
               result["coverage"].items()),
             f"  available ids sha256: {result['available_ids_sha256']}"]
    return "\n".join(lines)
