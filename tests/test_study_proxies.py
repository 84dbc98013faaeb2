"""Automatic proxies (hand-checked diversity/BLEU values, detector and grounded similarity on SIMULATED generations)
and `mimic study` end to end on SIMULATED annotators, ending in proxy validation."""

import json

import pyarrow.parquet as pq
import pytest

from mimic_bench.writer import default_study_pool_dir
from mimic_cli import main
from mimic_eval.study.proxies import bleu, compute_proxies, distinct_n, self_bleu, tokens, validate_proxies
from mimic_eval.study.simulate import make_fixture_bench, simulate_generations

LATENTS = {"sim-low": 0.05, "sim-mid": 0.4, "sim-high": 0.65}


def test_distinct_n_and_bleu_by_hand():
    assert tokens("Wow, so cute!") == ["wow", ",", "so", "cute", "!"]
    # "a b a b": unigrams {a, b} of 4 -> 0.5; bigrams {ab, ba} of 3 -> 2/3.
    assert distinct_n(["a b a b"], 1) == pytest.approx(0.5)
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert bleu(["the", "cat", "sat", "down"], [["the", "cat", "sat", "down"]]) == pytest.approx(1.0)
    assert bleu(["dog"], [["the", "cat"]]) == 0.0
    assert self_bleu(["same words here", "same words here", "same words here"]) == pytest.approx(1.0)
    assert self_bleu(["alpha beta gamma delta", "one two three four"]) == 0.0


@pytest.fixture()
def simulated(tmp_path):
    bench = make_fixture_bench(tmp_path / "bench", n_videos=16, seed=4, data_dir=tmp_path / "data")
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    gens = simulate_generations(rows, LATENTS, tmp_path / "gens.jsonl", seed=4)
    return bench, gens, tmp_path / "data"


def test_proxies_order_simulated_models_by_their_latent_human_likeness(simulated):
    bench, gens, data = simulated
    result = compute_proxies(bench, [str(gens)], data, embedder="tfidf", seed=0)
    s = result["sources"]
    assert result["n_train_human"] > 0 and set(s) == {"human", *LATENTS}
    # Leave-model-out detector: more human-style generations -> higher mean P(human); real comments highest.
    assert s["sim-low"]["detector_p_human"] < s["sim-mid"]["detector_p_human"] < s["sim-high"]["detector_p_human"]
    assert s["human"]["detector_p_human"] > s["sim-low"]["detector_p_human"]
    # Descriptive restatements are longer than real comments, so their length distribution is further away.
    assert s["sim-low"]["length_ks"] > s["sim-high"]["length_ks"]
    assert s["sim-low"]["mean_tokens"] > s["human"]["mean_tokens"]
    assert all(s[src]["n_comments"] == 16 for src in s)


def test_validate_spearman_and_its_bootstrap_ci():
    study = {"attentive_annotators": {"sources": [
        {"source": name, "judged_human_pct": pct} for name, pct in [("a", 5), ("b", 20), ("c", 40), ("d", 60),
                                                                    ("human", 90)]]}}
    proxies = {"sources": {name: {p: float("nan") for p in ("grounded_similarity", "distinct_1", "distinct_2",
                                                             "self_bleu", "mean_tokens", "length_ks",
                                                             "cross_video_duplicate_rate")} for name in "abcd"}}
    for name, value in zip(["a", "b", "c", "d"], [0.1, 0.3, 0.2, 0.6], strict=True):
        proxies["sources"][name]["detector_p_human"] = value
    proxies["sources"]["human"] = {**proxies["sources"]["a"], "detector_p_human": 0.9}
    result = validate_proxies(proxies, study, n_boot=300, seed=0)
    # Ranks of x (1,3,2,4,5) vs y (1,2,3,4,5): d^2 = 2 -> rho = 1 - 6*2/(5*24) = 0.9.
    detector = result["proxies"]["detector_p_human"]
    assert detector["spearman"] == pytest.approx(0.9)
    assert detector["ci"][0] <= 0.9 <= detector["ci"][1] <= 1.0
    assert result["proxies"]["self_bleu"]["spearman"] is None  # all NaN: not computable, not invented


def test_cli_end_to_end_on_simulated_annotators(simulated, tmp_path):
    bench, gens, data = simulated
    study, out = tmp_path / "study", tmp_path / "out"
    assert main(["study", "build", "--bench", str(bench), "--pool", str(default_study_pool_dir(bench)),
                 "--generations", str(gens), "--out", str(study), "--seed", "1", "--n-videos", "10"]) == 0
    assert main(["study", "validate", "--study", str(study), "--out", str(out / "quality.json")]) == 0
    assert json.loads((out / "quality.json").read_text())["sources"]["human"]["n_items"] == 10 * 5
    latents = [arg for src, p in LATENTS.items() for arg in ("--latent", f"{src}={p}")]
    assert main(["study", "simulate", "--study", str(study), "--db", str(out / "j.db"), "--annotators", "12",
                 "--out", str(out / "load.json"), *latents]) == 0
    assert main(["study", "aggregate", "--study", str(study), "--judgments", str(out / "j.db"), "--out",
                 str(out / "results"), "--n-boot", "300", "--simulated"]) == 0
    results = json.loads((out / "results/study_results.json").read_text())
    sources = {r["source"]: r for r in results["attentive_annotators"]["sources"]}
    rates = {s: r["judged_human_pct"] for s, r in sources.items()}
    assert results["simulated"] and rates["sim-low"] < rates["sim-high"] < rates["human"]
    for row in sources.values():  # judged-human % and mean realism, each with a 95 % CI around it
        assert row["judged_human_ci"][0] <= row["judged_human_pct"] <= row["judged_human_ci"][1]
        assert row["realism_ci"][0] <= row["realism_mean"] <= row["realism_ci"][1]
    assert sources["sim-low"]["realism_mean"] < sources["human"]["realism_mean"]
    agreement = results["attentive_annotators"]["agreement"]
    assert 0.5 < agreement["percent_agreement"] <= 1 and -1 <= agreement["krippendorff_alpha_nominal"] <= 1
    assert agreement["n_items_multi_rated"] > 0
    quality = results["annotators"]  # per-annotator quality, from the same database
    assert len(quality) == 12 and all(q["n_judgments"] > 0 and q["checks"] >= 1 for q in quality.values())
    assert {a for a, q in quality.items() if q["excluded"]} == set(results["attention_checks"]["excluded_annotators"])
    table = (out / "results/study_table.md").read_text()
    assert "Krippendorff α" in table and "| annotator | judgments | checks failed |" in table
    assert (out / "results/judged_human.png").exists()
    assert main(["study", "proxies", "--bench", str(bench), "--generations", str(gens), "--data", str(data),
                 "--embedder", "tfidf", "--out", str(out / "proxies.json")]) == 0
    assert main(["study", "validate-proxies", "--proxies", str(out / "proxies.json"), "--results",
                 str(out / "results/study_results.json"), "--n-boot", "300", "--out", str(out / "val.json")]) == 0
    validation = json.loads((out / "val.json").read_text())
    assert validation["simulated_judgments"] and validation["n_sources"] == 4
    assert validation["proxies"]["detector_p_human"]["spearman"] > 0
