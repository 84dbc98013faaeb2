"""Interaction score, the paper's top-2 % / top-5 % bench selection, and the bench/train split with zero overlap.

Interaction score (per platform): engagement per view with Bayesian smoothing,

    engagement = likes + 2 * comments + 3 * shares
    score      = (engagement + K * prior) / (views + K),   prior = sum(engagement) / sum(views) on that platform

so a video with few views is pulled towards its platform's typical rate instead of topping the list by luck (K = 1000
views by default). Scores are turned into percentiles within each platform, so both platforms reach the bench in
proportion to their size. Tier `top2` = percentile >= 98 %, tier `top5` = percentile >= 95 %. The bench takes eligible
videos (>= `min_comments` comments in the snapshot, so the comment tasks have material) by tier, then score, up to
`bench_size` (4,000 at full scale). Every other video is in the training pool, except near-duplicates of a bench video
(same channel and normalised title, or same content hash where videos exist), which are `excluded` so that nothing of the
bench leaks into training.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPLITS_SCHEMA = pa.schema([
    ("video_id", pa.string()),
    ("platform", pa.string()),
    ("split", pa.string()),  # bench | train | excluded
    ("tier", pa.string()),  # top2 | top5 | null
    ("interaction_score", pa.float64()),
    ("percentile", pa.float64()),
    ("duplicate_group", pa.string()),  # smallest video_id of its near-duplicate group
])


@dataclass(frozen=True)
class SelectionConfig:
    bench_size: int = 4000
    top_tiers: tuple[float, float] = (0.02, 0.05)
    min_comments: int = 5
    smoothing_views: float = 1000.0
    engagement_weights: tuple[float, float, float] = (1.0, 2.0, 3.0)  # likes, comments, shares


class OverlapError(AssertionError):
    """Bench and training pool share a video or a near-duplicate."""


def interaction_scores(records: pa.Table, cfg: SelectionConfig = SelectionConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(score, within-platform percentile in (0, 1]) per row; missing counts count as zero."""
    def col(name):
        return pc.fill_null(records[name], 0).to_numpy().astype(np.float64)

    wl, wc, ws = cfg.engagement_weights
    engagement = wl * col("like_count") + wc * col("comment_count") + ws * col("share_count")
    views = col("view_count")
    platforms = records["platform"].to_numpy(zero_copy_only=False)
    score = np.zeros(len(views))
    percentile = np.zeros(len(views))
    for platform in np.unique(platforms):
        m = platforms == platform
        prior = engagement[m].sum() / max(views[m].sum(), 1.0)
        score[m] = (engagement[m] + cfg.smoothing_views * prior) / (views[m] + cfg.smoothing_views)
        # rank by score, ties broken by row order (rows are sorted by video_id) for determinism
        order = np.lexsort((np.arange(m.sum()), score[m]))
        ranks = np.empty(m.sum())
        ranks[order] = np.arange(1, m.sum() + 1)
        percentile[m] = ranks / m.sum()
    return score, percentile


_NON_WORD = re.compile(r"[^\w\s]+", re.UNICODE)


def normalise_title(title: str) -> str:
    """Casefold, drop emoji/punctuation and collapse spaces: reposts with cosmetic edits map to one key."""
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def duplicate_groups(records: pa.Table, content_hashes: Mapping[str, str] | None = None) -> list[str]:
    """Per row, the smallest video_id of its near-duplicate group (union of same channel+title and same content hash)."""
    ids = records["video_id"].to_pylist()
    parent = list(range(len(ids)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union_by(keys):
        first: dict = {}
        for i, key in enumerate(keys):
            if key is None:
                continue
            j = first.setdefault(key, i)
            if j != i:
                a, b = find(i), find(j)
                parent[max(a, b)] = min(a, b)

    union_by(zip(records["channel_id"].to_pylist(), map(normalise_title, records["title"].to_pylist()), strict=True))
    if content_hashes:
        union_by([content_hashes.get(v) for v in ids])
    root_min: dict[int, str] = {}
    for i, vid in enumerate(ids):
        r = find(i)
        root_min[r] = min(root_min.get(r, vid), vid)
    return [root_min[find(i)] for i in range(len(ids))]


def select_splits(records: pa.Table, cfg: SelectionConfig = SelectionConfig(),
                  content_hashes: Mapping[str, str] | None = None) -> pa.Table:
    """The splits table (SPLITS_SCHEMA), sorted by video_id. Deterministic: no randomness is involved."""
    records = records.sort_by("video_id")
    score, percentile = interaction_scores(records, cfg)
    top2, top5 = cfg.top_tiers
    tier = np.where(percentile > 1 - top2, "top2", np.where(percentile > 1 - top5, "top5", ""))
    n_comments = pc.list_value_length(records["comments"]).to_numpy(zero_copy_only=False)
    eligible = (tier != "") & (n_comments >= cfg.min_comments)
    groups = np.array(duplicate_groups(records, content_hashes), dtype=object)
    # Candidates by tier, then score; only one video per near-duplicate group can enter the bench.
    candidates = np.flatnonzero(eligible)
    candidates = candidates[np.lexsort((-score[candidates], tier[candidates] != "top2"))]
    bench, used_groups = [], set()
    for i in candidates:
        if len(bench) >= cfg.bench_size:
            break
        if groups[i] not in used_groups:
            used_groups.add(groups[i])
            bench.append(i)
    split = np.full(len(score), "train", dtype=object)
    split[np.isin(groups, list(used_groups))] = "excluded"
    split[bench] = "bench"
    in_bench = split == "bench"
    return pa.table({
        "video_id": records["video_id"],
        "platform": records["platform"],
        "split": pa.array(split.tolist(), pa.string()),
        "tier": pa.array([t if b else None for t, b in zip(tier.tolist(), in_bench, strict=True)], pa.string()),
        "interaction_score": pa.array(score),
        "percentile": pa.array(percentile),
        "duplicate_group": pa.array(groups.tolist(), pa.string()),
    }, schema=SPLITS_SCHEMA)


def check_no_overlap(records: pa.Table, splits: pa.Table, content_hashes: Mapping[str, str] | None = None) -> None:
    """Raise OverlapError if a bench video, or a near-duplicate of one, is in the training pool.

    Recomputes the duplicate groups from the records instead of trusting the splits table, so it also catches a
    hand-edited or stale split file. Called by the tests, the release and the SFT data builder.
    """
    records = records.sort_by("video_id")
    by_id = dict(zip(splits["video_id"].to_pylist(), splits["split"].to_pylist(), strict=True))
    ids = records["video_id"].to_pylist()
    missing = [v for v in ids if v not in by_id]
    if missing:
        raise OverlapError(f"{len(missing)} records have no split, e.g. {missing[:3]}")
    groups = duplicate_groups(records, content_hashes)
    bench_groups: dict[str, str] = {}
    for vid, g in zip(ids, groups, strict=True):
        if by_id[vid] == "bench":
            bench_groups.setdefault(g, vid)
    leaks = [(bench_groups[g], vid) for vid, g in zip(ids, groups, strict=True)
             if by_id[vid] == "train" and g in bench_groups]
    if leaks:
        shown = ", ".join(f"{b} ~ {t}" for b, t in leaks[:5])
        raise OverlapError(f"{len(leaks)} training videos duplicate bench videos (bench ~ train): {shown}")
