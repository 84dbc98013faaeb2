"""Per-source results of the study: % judged human and mean realism with video-clustered bootstrap CIs, agreement,
attention-check exclusions, a paper-style table and a bar chart.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from mimic_data.io import atomic_write_json, atomic_write_text

from . import ATTENTION_SOURCE, HUMAN_SOURCE
from .agreement import agreement_report
from .sheet import ATTENTION_PASS, StudyInputError


def attention_failures(judgments: list[dict], source_of: dict[str, str]) -> dict[str, dict]:
    """Per annotator: attention checks seen and failed (failing = not answering exactly what the check asked)."""
    stats: dict[str, dict] = defaultdict(lambda: {"checks": 0, "failed": 0})
    for j in judgments:
        stats[j["annotator_id"]]  # every annotator appears, even with no checks yet
        if source_of[j["item_id"]] == ATTENTION_SOURCE:
            stats[j["annotator_id"]]["checks"] += 1
            passed = bool(j["judged_human"]) == ATTENTION_PASS["judged_human"] and j["realism"] == ATTENTION_PASS["realism"]
            stats[j["annotator_id"]]["failed"] += int(not passed)
    return dict(stats)


def annotator_quality(judgments: list[dict], source_of: dict[str, str], checks: dict[str, dict],
                      excluded: set[str]) -> dict[str, dict]:
    """Per annotator: volume, attention checks, speed, straight-lining and agreement with the other annotators.

    majority_agreement: share of the annotator's Human/AI verdicts on content items that match the majority of the
    OTHER annotators of the item (items where the others tie or nobody else judged are left out); straight_lining:
    share of the annotator's content answers equal to their most frequent (verdict, realism) pair.
    """
    content = [j for j in judgments if source_of[j["item_id"]] != ATTENTION_SOURCE]
    votes: dict[str, list[bool]] = defaultdict(list)
    for j in content:
        votes[j["item_id"]].append(bool(j["judged_human"]))
    by_annotator: dict[str, list[dict]] = defaultdict(list)
    for j in judgments:
        by_annotator[j["annotator_id"]].append(j)
    quality = {}
    for annotator, own in sorted(by_annotator.items()):
        mine = [j for j in own if source_of[j["item_id"]] != ATTENTION_SOURCE]
        agree = []
        for j in mine:
            others = list(votes[j["item_id"]])
            others.remove(bool(j["judged_human"]))
            n_human = sum(others)
            if others and 2 * n_human != len(others):
                agree.append(bool(j["judged_human"]) == (2 * n_human > len(others)))
        pairs = [(bool(j["judged_human"]), j["realism"]) for j in mine]
        latencies = [j["latency_ms"] for j in own if j.get("latency_ms") is not None]
        quality[annotator] = {
            "n_judgments": len(own), **checks[annotator],
            "judged_human_share": float(np.mean([p[0] for p in pairs])) if pairs else None,
            "realism_mean": float(np.mean([p[1] for p in pairs])) if pairs else None,
            "median_latency_ms": float(np.median(latencies)) if latencies else None,
            "straight_lining": max(pairs.count(p) for p in set(pairs)) / len(pairs) if pairs else None,
            "majority_agreement": float(np.mean(agree)) if agree else None, "n_compared": len(agree),
            "excluded": annotator in excluded,
        }
    return quality


def cluster_bootstrap(per_video: dict[str, tuple[float, float]], n_boot: int, seed: int) -> tuple[float, float, float]:
    """Ratio estimate sum(num)/sum(den) with a percentile CI, resampling whole videos (judgments cluster by video)."""
    videos = sorted(per_video)
    num = np.array([per_video[v][0] for v in videos])
    den = np.array([per_video[v][1] for v in videos])
    point = float(num.sum() / den.sum())
    if len(videos) < 2:
        return point, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(videos), size=(n_boot, len(videos)))
    ratios = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return point, float(low), float(high)


def per_source(judgments: list[dict], manifest_by_item: dict[str, dict], n_boot: int, seed: int) -> list[dict]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for j in judgments:
        grouped[manifest_by_item[j["item_id"]]["source"]].append(j)
    rows = []
    for source in sorted(grouped):
        if source == ATTENTION_SOURCE:
            continue
        human_by_video: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        realism_by_video: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for j in grouped[source]:
            human_by_video[j["video_id"]][0] += bool(j["judged_human"])
            human_by_video[j["video_id"]][1] += 1
            realism_by_video[j["video_id"]][0] += j["realism"]
            realism_by_video[j["video_id"]][1] += 1
        rate, rate_lo, rate_hi = cluster_bootstrap({v: tuple(x) for v, x in human_by_video.items()}, n_boot, seed)
        real, real_lo, real_hi = cluster_bootstrap({v: tuple(x) for v, x in realism_by_video.items()}, n_boot, seed)
        rows.append({
            "source": source, "n_judgments": len(grouped[source]),
            "n_items": len({j["item_id"] for j in grouped[source]}), "n_videos": len(human_by_video),
            "judged_human_pct": 100 * rate, "judged_human_ci": [100 * rate_lo, 100 * rate_hi],
            "realism_mean": real, "realism_ci": [real_lo, real_hi],
        })
    human = next((r for r in rows if r["source"] == HUMAN_SOURCE), None)
    for row in rows:
        row["human_likeness_ratio"] = row["judged_human_pct"] / human["judged_human_pct"] if human and \
            human["judged_human_pct"] else None
    return sorted(rows, key=lambda r: (r["source"] == HUMAN_SOURCE, r["judged_human_pct"]))


def aggregate(judgments: list[dict], manifest: list[dict], n_boot: int = 2000, seed: int = 0,
              max_failed_checks: int = 1) -> dict:
    """Results with all annotators and without those who failed more than `max_failed_checks` attention checks."""
    manifest_by_item = {m["item_id"]: m for m in manifest}
    unknown = [j["item_id"] for j in judgments if j["item_id"] not in manifest_by_item]
    if unknown:
        raise StudyInputError(f"judgment for item {unknown[0]!r} not in the study manifest ({len(unknown)} such)")
    source_of = {item: m["source"] for item, m in manifest_by_item.items()}
    checks = attention_failures(judgments, source_of)
    excluded = sorted(a for a, s in checks.items() if s["failed"] > max_failed_checks)
    content = [j for j in judgments if source_of[j["item_id"]] != ATTENTION_SOURCE]
    kept = [j for j in content if j["annotator_id"] not in set(excluded)]
    result = {}
    for name, subset in (("all_annotators", content), ("attentive_annotators", kept)):
        result[name] = {"n_annotators": len({j["annotator_id"] for j in subset}),
                        "sources": per_source(subset, manifest_by_item, n_boot, seed),
                        "agreement": agreement_report(subset)}
    result["attention_checks"] = {"max_failed_checks": max_failed_checks, "excluded_annotators": excluded,
                                  "per_annotator": checks}
    result["annotators"] = annotator_quality(judgments, source_of, checks, set(excluded))
    result["n_boot"], result["seed"] = n_boot, seed
    return result


def results_table(result: dict, key: str = "attentive_annotators") -> str:
    """A markdown table shaped like the paper's (source, % judged human, mean realism) plus CIs and counts."""
    block = result[key]
    lines = ["| Comment source | Judged as Human (%) ↑ | 95% CI | Avg realism (0–5) ↑ | 95% CI | judgments |",
             "|---|---|---|---|---|---|"]
    for r in block["sources"]:
        name = "Human (real comments)" if r["source"] == HUMAN_SOURCE else r["source"]
        lines.append(f"| {name} | {r['judged_human_pct']:.2f} | {r['judged_human_ci'][0]:.2f}–"
                     f"{r['judged_human_ci'][1]:.2f} | {r['realism_mean']:.2f} | {r['realism_ci'][0]:.2f}–"
                     f"{r['realism_ci'][1]:.2f} | {r['n_judgments']} |")
    a = block["agreement"]
    lines.append("")
    lines.append(f"Agreement (Human/AI, {a['n_items_multi_rated']} multi-rated items): "
                 f"{100 * a['percent_agreement']:.2f}% pairwise, Fleiss κ {a['fleiss_kappa']:.3f}, "
                 f"Krippendorff α {a['krippendorff_alpha_nominal']:.3f}, Gwet AC1 {a['gwet_ac1']:.3f}; realism α "
                 f"(ordinal) {a['realism_krippendorff_alpha_ordinal']:.3f}. Annotators: {block['n_annotators']}.")
    return "\n".join(lines) + "\n"


def annotator_table(result: dict) -> str:
    """Per-annotator quality (attention checks, agreement with the others' majority, speed, straight-lining)."""
    lines = ["| annotator | judgments | checks failed | agrees with majority | median s / answer | straight-lining | "
             "excluded |", "|---|---|---|---|---|---|---|"]

    def fmt(value, scale=1.0, digits=2):
        return "—" if value is None else f"{scale * value:.{digits}f}"

    for annotator, q in result["annotators"].items():
        lines.append(f"| {annotator} | {q['n_judgments']} | {q['failed']}/{q['checks']} | "
                     f"{fmt(q['majority_agreement'])} | {fmt(q['median_latency_ms'], 1e-3, 1)} | "
                     f"{fmt(q['straight_lining'])} | {'yes' if q['excluded'] else 'no'} |")
    return "\n".join(lines) + "\n"


def bar_chart(result: dict, path: str | os.PathLike, key: str = "attentive_annotators", title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result[key]["sources"]
    values = [r["judged_human_pct"] for r in rows]
    errors = np.array([[v - r["judged_human_ci"][0], r["judged_human_ci"][1] - v] for v, r in zip(values, rows,
                                                                                                   strict=True)]).T
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(rows) + 2), 3.5))
    ax.bar([r["source"] for r in rows], values, yerr=np.nan_to_num(errors), capsize=4,
           color=["#4c72b0" if r["source"] != HUMAN_SOURCE else "#55a868" for r in rows])
    ax.set_ylabel("judged as human (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or "Comment mimicking: judged-human rate (95% video-clustered bootstrap CI)", fontsize=9)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def write_results(result: dict, out_dir: str | os.PathLike, title: str = "") -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {"results": atomic_write_json(out_dir / "study_results.json", result),
             "table": atomic_write_text(out_dir / "study_table.md", (f"{title}\n\n" if title else "")
                                        + results_table(result) + "\n" + annotator_table(result)),
             "chart": bar_chart(result, out_dir / "judged_human.png", title=title)}
    return paths
