"""`mimic data release`: the Hub-ready MIMIC-Data folder — parquet configs `videos`, `comments`, `splits`, and a card.

No video files are written (copyright): users hydrate with `mimic hydrate`. Comments carry no author data (the schema
has no field for it). Before writing, the bench/train split is checked for overlap.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mimic_cards import markdown_table, render_card, size_category

from .io import atomic_write_text, write_parquet
from .select import check_no_overlap

CONFIGS = ("videos", "comments", "splits")
SPLIT_NAME = "snapshot"  # the Hub split name of every config (one crawl snapshot)


def comments_table(records: pa.Table) -> pa.Table:
    """Flatten the comment snapshots: one row per (video_id, rank)."""
    flat = pc.list_flatten(records["comments"])
    video_ids = pc.take(records["video_id"], pc.list_parent_indices(records["comments"]))
    return pa.table({
        "video_id": video_ids,
        "rank": pc.struct_field(flat, "rank"),
        "text": pc.struct_field(flat, "text"),
        "like_count": pc.struct_field(flat, "like_count"),
        "is_pinned": pc.struct_field(flat, "is_pinned"),
    })


def release(records: pa.Table, splits: pa.Table, out_dir: str | Path, source: str = "synthetic world") -> Path:
    records = records.sort_by("video_id")
    splits = splits.sort_by("video_id")
    check_no_overlap(records, splits)
    out = Path(out_dir)
    videos = records.drop_columns(["comments"])
    comments = comments_table(records)
    write_parquet(out / "videos.parquet", videos)
    write_parquet(out / "comments.parquet", comments)
    write_parquet(out / "splits.parquet", splits)
    platforms = videos["platform"].to_pylist()
    split_values = splits["split"].to_pylist()
    tiers = splits["tier"].to_pylist()
    context = {
        "source": source,
        "n_videos": len(videos),
        "n_comments": len(comments),
        "size_category": size_category(len(videos)),
        "snapshot_dates": sorted({d.isoformat() for d in videos["snapshot_date"].to_pylist()}),
        "split_name": SPLIT_NAME,
        "configs": CONFIGS,
        "counts_table": markdown_table(
            ["platform", "videos", "bench", "bench top-2 %", "bench top-5 %", "train", "excluded near-duplicates"],
            [[p, platforms.count(p),
              sum(1 for q, s in zip(platforms, split_values, strict=True) if q == p and s == "bench"),
              sum(1 for q, t in zip(platforms, tiers, strict=True) if q == p and t == "top2"),
              sum(1 for q, t in zip(platforms, tiers, strict=True) if q == p and t == "top5"),
              sum(1 for q, s in zip(platforms, split_values, strict=True) if q == p and s == "train"),
              sum(1 for q, s in zip(platforms, split_values, strict=True) if q == p and s == "excluded")]
             for p in sorted(set(platforms))]),
    }
    atomic_write_text(out / "README.md", render_card("mimic_data.md", context, kind="dataset"))
    return out
