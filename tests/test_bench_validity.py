"""Validity of the bench on a generated world (issue #25): two-sided cue audits, the oracle ceiling per task, the
decidability column, UIU-Pop decidable from the video and not from its option set, CAM-Cat without traps.
Hashing embedder: fast, no model weights. The 2,000-video version of the audit check is scripts/validity_audit.py."""

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from mimic_bench.audit import AUDIT_FILE, BASELINES, DEPARTURE_SE, audit, audit_table, two_sided
from mimic_bench.embed import get_embedder
from mimic_bench.oracle import DECIDABLE_FROM, consistent_options, load_world, oracle_accuracy
from mimic_bench.tasks import TASK_NAMES
from mimic_bench.writer import build_bench
from mimic_data.synth import synthesize_with_splits


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    world = synthesize_with_splits(tmp_path_factory.mktemp("world"), n=2500, seed=11, bench_size=80)
    bench = tmp_path_factory.mktemp("bench")
    build_bench(world, bench, seed=0, embedder="hashing")
    built = {t: (bench / f"{t}.parquet").read_bytes() for t in TASK_NAMES}
    report = audit(bench, world, get_embedder("hashing"), seed=0, train_videos=1200)
    return world, bench, report, built


def test_two_sided_flags_departures_below_and_above_chance():
    n = 2000
    below = two_sided(np.arange(n) < 0.20 * n)  # 20 % on 2,000 questions: about -5 SE
    assert below["departs"] and below["z"] < -DEPARTURE_SE and below["se"] == pytest.approx(np.sqrt(0.1875 / n))
    above = two_sided(np.arange(n) < 0.30 * n)
    assert above["departs"] and above["z"] > DEPARTURE_SE
    assert not two_sided(np.arange(n) < 0.26 * n)["departs"]


def test_audit_reports_both_builds_two_sided_and_oracle_ceilings(audited):
    _, _, report, _ = audited
    assert report["departure_se"] == DEPARTURE_SE
    for task, t in report["tasks"].items():
        assert t["n_audit_build_questions"] > 3 * t["n_questions"], task
        for build in ("bench", "audit_build"):
            assert set(t["heuristics"][build]) == set(BASELINES)
            for h in t["heuristics"][build].values():
                assert h["departs"] == (abs(h["z"]) > DEPARTURE_SE)
            assert t["oracle_ceiling"][build] >= 0.85, (task, build)
    assert report["tasks"]["uiu_pop"]["oracle_ceiling"]["audit_build"] == 1.0
    table = audit_table(report)
    assert "oracle ceiling" in table and "±" in table


def test_no_heuristic_departs_from_chance_on_the_audit_build(audited):
    _, _, report, _ = audited
    for task, t in report["tasks"].items():
        for name, h in t["heuristics"]["audit_build"].items():
            assert not h["departs"], (task, name, h)


def test_decidable_from_column_is_filled_and_agrees_with_the_oracle(audited):
    world_dir, bench, _, _ = audited
    world = load_world(world_dir)
    for task in TASK_NAMES:
        rows = pq.read_table(bench / f"{task}.parquet").to_pylist()
        flags = [q["decidable_from"] for q in rows]
        assert set(flags) <= set(DECIDABLE_FROM), task
        for q in rows:
            if q["decidable_from"] == "content":
                assert consistent_options(q, world[q["video_id"]]) == [q["answer_idx"]]
        if task != "cam_cat":
            assert flags.count("content") >= 0.8 * len(rows), task


def test_cam_cat_never_offers_the_shown_category_as_wrong(audited):
    world_dir, bench, _, _ = audited
    world = load_world(world_dir)
    rows = pq.read_table(bench / "cam_cat.parquet").to_pylist()
    misfiled = 0
    for q in rows:
        shown = world[q["video_id"]]["scene"]
        assert all(o != shown for i, o in enumerate(q["options"]) if i != q["answer_idx"])
        assert oracle_accuracy(q, world[q["video_id"]]) > 0  # no trap: a perfect viewer is never marked wrong
        if q["options"][q["answer_idx"]] != shown:
            misfiled += 1
            assert q["decidable_from"] in ("neither", "text")
    assert misfiled < 0.2 * len(rows)


def test_uiu_pop_exactly_one_option_fits_what_the_video_shows(audited):
    world_dir, bench, _, _ = audited
    world = load_world(world_dir)
    for q in pq.read_table(bench / "uiu_pop.parquet").to_pylist():
        assert consistent_options(q, world[q["video_id"]]) == [q["answer_idx"]], q["options"]


def test_audit_is_deterministic(audited, tmp_path):
    world_dir, bench, report, built = audited
    copy = tmp_path / "bench"
    copy.mkdir()
    for f in bench.iterdir():
        shutil.copy(f, copy / f.name)
    for task, data in built.items():  # the tables as the build wrote them, before the audit filled the column
        (copy / f"{task}.parquet").write_bytes(data)
    again = audit(copy, world_dir, get_embedder("hashing"), seed=0, train_videos=1200)
    assert again["tasks"] == report["tasks"]
    for task in TASK_NAMES:
        assert (copy / f"{task}.parquet").read_bytes() == (bench / f"{task}.parquet").read_bytes(), task
    assert (copy / AUDIT_FILE).read_bytes() == (bench / AUDIT_FILE).read_bytes()
