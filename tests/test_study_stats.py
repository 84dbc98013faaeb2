"""Agreement statistics against hand-computed values, and aggregation on a hand-made fixture."""

import json

import pytest

from mimic_eval.study.aggregate import aggregate, cluster_bootstrap, write_results
from mimic_eval.study.agreement import fleiss_kappa, gwet_ac1, krippendorff_alpha, percent_agreement

# Four items, each rated by three of four annotators (an incomplete k-of-N design). H = judged human.
BALANCED = [("a", "i1", "H"), ("b", "i1", "H"), ("c", "i1", "H"),
            ("a", "i2", "H"), ("b", "i2", "H"), ("d", "i2", "A"),
            ("b", "i3", "A"), ("c", "i3", "A"), ("d", "i3", "A"),
            ("a", "i4", "A"), ("c", "i4", "A"), ("d", "i4", "H"),
            ("a", "i5", "H")]  # a single rating carries no agreement information
SKEWED = [(r, i, "A") for i in ("i1", "i2", "i4") for r in "abc"] + [("a", "i3", "A"), ("b", "i3", "A"), ("c", "i3", "H")]


def test_agreement_matches_hand_computation():
    # Per-item agreeing-pair shares 1, 1/3, 1, 1/3 -> 2/3; marginals 1/2 -> chance 1/2 -> kappa = AC1 = 1/3.
    assert percent_agreement(BALANCED) == pytest.approx(2 / 3)
    assert fleiss_kappa(BALANCED) == pytest.approx(1 / 3)
    assert gwet_ac1(BALANCED) == pytest.approx(1 / 3)
    # Coincidences o_HH = o_AA = 4, o_HA = o_AH = 2 (n = 12): D_o = 1/3, D_e = 72/132 -> alpha = 7/18.
    assert krippendorff_alpha(BALANCED) == pytest.approx(7 / 18)
    # Skewed marginals: P_o = 5/6; kappa chance 61/72 -> -1/11; AC1 chance 11/72 -> 49/61 (the kappa paradox).
    assert percent_agreement(SKEWED) == pytest.approx(5 / 6)
    assert fleiss_kappa(SKEWED) == pytest.approx(-1 / 11)
    assert gwet_ac1(SKEWED) == pytest.approx(49 / 61)


def test_cluster_bootstrap_is_a_ratio_with_a_seeded_ci_inside_the_video_range():
    per_video = {"v1": (1, 4), "v2": (3, 4), "v3": (4, 4)}
    point, low, high = cluster_bootstrap(per_video, n_boot=500, seed=0)
    assert point == pytest.approx(8 / 12)
    assert 0.25 <= low <= point <= high <= 1.0 and low < high
    assert cluster_bootstrap(per_video, n_boot=500, seed=0) == (point, low, high)


def _manifest():
    rows = []
    for v in ("v1", "v2"):
        rows += [{"item_id": f"{v}h{i}", "video_id": v, "source": "human"} for i in range(2)]
        rows.append({"item_id": f"{v}m", "video_id": v, "source": "model-x"})
    rows += [{"item_id": f"chk{i}", "video_id": "v1", "source": "attention_check"} for i in range(2)]
    return rows


def _judgment(annotator, item, human, realism):
    return {"annotator_id": annotator, "item_id": item, "video_id": item[:2] if item[0] == "v" else "v1",
            "judged_human": human, "realism": realism}


def test_aggregate_rates_realism_and_attention_exclusion(tmp_path):
    judgments = []
    for annotator in ("good1", "good2"):
        judgments += [_judgment(annotator, f"{v}h{i}", True, 4) for v in ("v1", "v2") for i in range(2)]
        judgments += [_judgment(annotator, "v1m", annotator == "good1", 2), _judgment(annotator, "v2m", False, 0)]
        judgments += [_judgment(annotator, f"chk{i}", False, 0) for i in range(2)]
    # "careless" calls everything human with realism 5 and fails both checks.
    judgments += [_judgment("careless", m["item_id"], True, 5) for m in _manifest()]
    result = aggregate(judgments, _manifest(), n_boot=200, seed=0, max_failed_checks=1)
    assert result["attention_checks"]["excluded_annotators"] == ["careless"]
    assert result["attention_checks"]["per_annotator"]["good1"] == {"checks": 2, "failed": 0}
    kept = {r["source"]: r for r in result["attentive_annotators"]["sources"]}
    assert set(kept) == {"human", "model-x"}  # attention checks are never a source in the table
    assert kept["model-x"]["judged_human_pct"] == pytest.approx(25.0)
    assert kept["model-x"]["realism_mean"] == pytest.approx(1.0)
    assert kept["human"]["judged_human_pct"] == pytest.approx(100.0)
    assert kept["model-x"]["human_likeness_ratio"] == pytest.approx(0.25)
    everyone = {r["source"]: r for r in result["all_annotators"]["sources"]}
    assert everyone["model-x"]["judged_human_pct"] == pytest.approx(50.0)  # 3 of 6 with careless included
    assert everyone["model-x"]["n_judgments"] == 6 and result["all_annotators"]["n_annotators"] == 3
    # Agreement without careless: 5 of 6 items unanimous, v1m split 1:1 -> pairwise agreement 5/6.
    assert result["attentive_annotators"]["agreement"]["percent_agreement"] == pytest.approx(5 / 6)
    # Per-annotator quality: careless always answers (Human, 5) and agrees with the others' majority on 4 of the 5
    # items where the others do not tie (v1m ties 1:1 and is left out); good1 is left with the four real comments.
    careless, good1 = result["annotators"]["careless"], result["annotators"]["good1"]
    assert careless["straight_lining"] == 1.0 and careless["excluded"] and careless["failed"] == 2
    assert careless["majority_agreement"] == pytest.approx(4 / 5) and careless["n_compared"] == 5
    assert good1["majority_agreement"] == 1.0 and good1["n_compared"] == 4 and not good1["excluded"]
    assert good1["judged_human_share"] == pytest.approx(5 / 6) and good1["median_latency_ms"] is None
    paths = write_results(result, tmp_path / "out", title="fixture")
    assert json.loads(paths["results"].read_text())["attention_checks"]["excluded_annotators"] == ["careless"]
    table = paths["table"].read_text()
    assert "| model-x | 25.00 |" in table and "Human (real comments)" in table
    assert "| careless | 8 | 2/2 | 0.80 | — | 1.00 | yes |" in table
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_aggregate_rejects_judgments_outside_the_manifest():
    with pytest.raises(ValueError, match="'ghost'"):
        aggregate([_judgment("a", "ghost", True, 1)], _manifest(), n_boot=10)
