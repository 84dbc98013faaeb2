"""Quality checks of a built study before it is served (`mimic study validate`), per comment source:

- cross-video duplicates: one source giving the same text (study_text_key) to different videos, and near-duplicates
  (token-set Jaccard >= NEAR_DUPLICATE_JACCARD) across videos; annotators learn to spot a repeated comment;
- length and emoji distributions against the real comments (the surface cues annotators use): KS statistic of the
  character lengths, share of comments with an emoji;
- the manifest's flags: identity leaks ("as an AI"), copies of the same video's real comments, copies of public text.

A model source is flagged when a cue crosses its threshold (repeats: above MAX_DUPLICATE_SHARE and above the real
comments' own repeat share, which is reported as the baseline); flags are reported, never silently fixed.
"""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from mimic_bench.build import study_text_key
from mimic_bench.options import style_signature

from . import ATTENTION_SOURCE, HUMAN_SOURCE
from .proxies import tokens
from .sheet import load_manifest

NEAR_DUPLICATE_JACCARD = 0.8
MAX_DUPLICATE_SHARE = 0.10  # of a source's items that repeat (or nearly repeat) a text of another video
MAX_LENGTH_KS = 0.5  # KS statistic of character lengths against the real comments
MAX_EMOJI_GAP = 0.25  # absolute difference in the share of comments with an emoji against the real comments


def _duplicate_items(items: list[dict]) -> tuple[set[int], set[int], list[str]]:
    """(indices repeating another video's text exactly, indices nearly repeating one, the most repeated texts)."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_key[study_text_key(item["text"])].append(i)
    exact = set()
    repeated = []
    for indices in by_key.values():
        if len({items[i]["video_id"] for i in indices}) > 1:
            exact.update(indices)
            repeated.append((len(indices), items[indices[0]]["text"]))
    token_sets = [set(tokens(item["text"])) for item in items]
    near = set()
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if items[i]["video_id"] == items[j]["video_id"] or (i in exact and j in exact):
                continue
            union = token_sets[i] | token_sets[j]
            if union and len(token_sets[i] & token_sets[j]) / len(union) >= NEAR_DUPLICATE_JACCARD:
                near.update((i, j))
    return exact, near - exact, [text for _, text in sorted(repeated, key=lambda r: (-r[0], r[1]))[:3]]


def _repeat_share(row: dict) -> float:
    return row["cross_video_duplicate_share"] + row["cross_video_near_duplicate_share"]


def _ks(a: list[int], b: list[int]) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic) if a and b else float("nan")


def study_quality(study_dir: str | os.PathLike) -> dict:
    """Per-source cues and flags of a built study (reads its secret manifest)."""
    by_source: dict[str, list[dict]] = defaultdict(list)
    for item in load_manifest(study_dir):
        if item["source"] != ATTENTION_SOURCE:
            by_source[item["source"]].append(item)
    human_lengths = [len(i["text"]) for i in by_source.get(HUMAN_SOURCE, [])]
    human_emoji = (np.mean([style_signature(i["text"])[1] for i in by_source[HUMAN_SOURCE]])
                   if human_lengths else float("nan"))
    sources = {}
    for source, items in sorted(by_source.items()):
        lengths = [len(i["text"]) for i in items]
        emoji_share = float(np.mean([style_signature(i["text"])[1] for i in items]))
        exact, near, repeated = _duplicate_items(items)
        row = {
            "n_items": len(items), "n_videos": len({i["video_id"] for i in items}),
            "length_chars": {"mean": float(np.mean(lengths)), "p10": float(np.percentile(lengths, 10)),
                             "median": float(np.median(lengths)), "p90": float(np.percentile(lengths, 90))},
            "mean_tokens": float(np.mean([len(tokens(i["text"])) for i in items])),
            "emoji_share": emoji_share,
            "cross_video_duplicate_share": len(exact) / len(items),
            "cross_video_near_duplicate_share": len(near) / len(items),
            "most_repeated": repeated,
            "length_ks_vs_human": _ks(lengths, human_lengths) if source != HUMAN_SOURCE else 0.0,
            "emoji_gap_vs_human": abs(emoji_share - human_emoji) if source != HUMAN_SOURCE else 0.0,
            "identity_leaks": sum(bool(i["identity_leak"]) for i in items),
            "copies_of_same_video_human": sum(bool(i["duplicate_of_human"]) for i in items),
            "found_in_public": sum(bool(i.get("found_in_public")) for i in items),
        }
        flags = []
        if row["length_ks_vs_human"] > MAX_LENGTH_KS:
            flags.append(f"lengths differ from the real comments (KS {row['length_ks_vs_human']:.2f})")
        if row["emoji_gap_vs_human"] > MAX_EMOJI_GAP:
            flags.append(f"emoji in {100 * emoji_share:.0f}% of comments vs {100 * human_emoji:.0f}% of real ones")
        for key, what in (("identity_leaks", "name a model or say they are an AI"),
                          ("copies_of_same_video_human", "copy a real comment of the same video"),
                          ("found_in_public", "are found verbatim in a public folder")):
            if row[key]:
                flags.append(f"{row[key]} of its comments {what}")
        row["flags"] = flags
        sources[source] = row
    human_repeats = _repeat_share(sources[HUMAN_SOURCE]) if HUMAN_SOURCE in sources else 0.0
    for source, row in sources.items():
        repeats = _repeat_share(row)
        if source != HUMAN_SOURCE and repeats > max(MAX_DUPLICATE_SHARE, human_repeats):
            row["flags"].insert(0, f"{100 * repeats:.0f}% of its comments repeat another video's (exactly or nearly; "
                                   f"real comments: {100 * human_repeats:.0f}%)")
    return {"thresholds": {"near_duplicate_jaccard": NEAR_DUPLICATE_JACCARD, "max_duplicate_share": MAX_DUPLICATE_SHARE,
                           "max_length_ks": MAX_LENGTH_KS, "max_emoji_gap": MAX_EMOJI_GAP},
            "sources": sources, "flagged_sources": sorted(s for s, r in sources.items() if r["flags"])}


def quality_table(report: dict) -> str:
    lines = ["| source | items | mean chars | emoji % | cross-video repeats % | length KS vs human | flags |",
             "|---|---|---|---|---|---|---|"]
    for source, r in report["sources"].items():
        repeats = 100 * _repeat_share(r)
        lines.append(f"| {source} | {r['n_items']} | {r['length_chars']['mean']:.1f} | {100 * r['emoji_share']:.0f} | "
                     f"{repeats:.0f} | {r['length_ks_vs_human']:.2f} | {'; '.join(r['flags']) or '-'} |")
    return "\n".join(lines) + "\n"
