"""Inter-annotator agreement on incomplete k-of-N designs: percent agreement, Fleiss' κ, Gwet's AC1, Krippendorff's α.

Input everywhere is a list of (annotator, item, label) triples; items rated by fewer than two annotators carry no
agreement information and are dropped. Fleiss' κ and AC1 use the variable-raters-per-item forms (Fleiss 1971 eq. with
per-item n_i; Gwet 2008), which reduce to the textbook formulas when every item has the same number of ratings.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def _category_counts(triples: list[tuple[str, str, object]]) -> tuple[np.ndarray, list]:
    by_item: dict[str, list] = defaultdict(list)
    for _, item, label in triples:
        by_item[item].append(label)
    categories = sorted({label for labels in by_item.values() for label in labels}, key=repr)
    rows = [[labels.count(c) for c in categories] for labels in by_item.values() if len(labels) >= 2]
    return np.array(rows, dtype=float).reshape(-1, len(categories)), categories


def percent_agreement(triples) -> float:
    """Mean over items of the share of agreeing annotator pairs (the usual reading of a reported "% agreement")."""
    counts, _ = _category_counts(triples)
    if not len(counts):
        return float("nan")
    n = counts.sum(axis=1)
    return float(np.mean((counts * (counts - 1)).sum(axis=1) / (n * (n - 1))))


def fleiss_kappa(triples) -> float:
    counts, _ = _category_counts(triples)
    if not len(counts):
        return float("nan")
    p_observed = percent_agreement(triples)
    p_category = counts.sum(axis=0) / counts.sum()
    p_chance = float((p_category**2).sum())
    return float("nan") if p_chance == 1 else (p_observed - p_chance) / (1 - p_chance)


def gwet_ac1(triples, n_categories: int | None = None) -> float:
    """Gwet's AC1; chance agreement from the mean per-item category shares, robust to skewed marginals."""
    counts, categories = _category_counts(triples)
    if not len(counts):
        return float("nan")
    q = n_categories or len(categories)
    if q < 2:
        return 1.0  # everyone used one category: perfect agreement, no chance correction possible
    p_observed = percent_agreement(triples)
    pi = (counts / counts.sum(axis=1, keepdims=True)).mean(axis=0)
    p_chance = float((pi * (1 - pi)).sum() / (q - 1))
    return (p_observed - p_chance) / (1 - p_chance)


def krippendorff_alpha(triples, level: str = "nominal") -> float:
    """Krippendorff's α via the `krippendorff` package (annotators × items, NaN where an annotator did not rate)."""
    import krippendorff

    annotators = sorted({a for a, _, _ in triples})
    items = sorted({i for _, i, _ in triples})
    labels = sorted({label for _, _, label in triples}, key=repr)
    if len(labels) < 2:
        return float("nan")
    code = {label: float(i) if level == "nominal" else float(label) for i, label in enumerate(labels)}
    data = np.full((len(annotators), len(items)), np.nan)
    a_index = {a: i for i, a in enumerate(annotators)}
    i_index = {it: i for i, it in enumerate(items)}
    for annotator, item, label in triples:
        data[a_index[annotator], i_index[item]] = code[label]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def agreement_report(judgments: list[dict]) -> dict:
    """All agreement statistics for Human/AI (nominal) and realism (ordinal, interval) on non-check items."""
    binary = [(j["annotator_id"], j["item_id"], bool(j["judged_human"])) for j in judgments]
    realism = [(j["annotator_id"], j["item_id"], int(j["realism"])) for j in judgments]
    return {
        "n_items_multi_rated": int(len(_category_counts(binary)[0])),
        "percent_agreement": percent_agreement(binary),
        "fleiss_kappa": fleiss_kappa(binary),
        "gwet_ac1": gwet_ac1(binary, n_categories=2),
        "krippendorff_alpha_nominal": krippendorff_alpha(binary, "nominal"),
        "realism_krippendorff_alpha_ordinal": krippendorff_alpha(realism, "ordinal"),
        "realism_krippendorff_alpha_interval": krippendorff_alpha(realism, "interval"),
    }
