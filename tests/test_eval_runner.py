"""The harness end to end on a tiny bench folder: resume after a kill, missing/corrupt videos, decode-once, circular,
data-parallel shards merged from files, and the run manifest. Models are tiny random MIMIC-Chat (random weights)."""

import hashlib
import json
import shutil

import pytest
from eval_helpers import build_bench, save_tiny_mimic_chat

from mimic_data.io import read_jsonl
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.runner import RunOptions, run_eval


@pytest.fixture(scope="module")
def model_spec(tmp_path_factory):
    return "mimic-chat:" + str(save_tiny_mimic_chat(tmp_path_factory.mktemp("mc") / "model"))


@pytest.fixture
def bench(tmp_path):
    return build_bench(tmp_path / "bench", n_videos=4)


TWO_TASKS = ["cam_tag", "uiu_pop"]  # 2 of 7 tasks keep the tiny model's CPU time low; the code path is the same


def adapter(spec, **kw):
    return build_adapter(spec, scoring="likelihood", batch_size=8, **kw)


def rows_of(run_dir):
    return list(read_jsonl(run_dir / "samples.jsonl"))


def test_resume_after_kill_neither_repeats_nor_loses_and_scores_the_same(model_spec, bench, tmp_path):
    options = RunOptions(tasks=TWO_TASKS, conditions=["video", "blind"], progress=False)
    clean = run_eval(adapter(model_spec), bench, tmp_path / "clean", options)

    killed = adapter(model_spec)
    real_answer, calls = killed.answer, {"n": 0}

    def dies_on_third_batch(requests):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # like SIGINT mid-run: nothing after this point is written
        return real_answer(requests)

    killed.answer = dies_on_third_batch
    run_dir = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_eval(killed, bench, run_dir, options)
    written = rows_of(run_dir)
    assert 0 < len(written) < clean["planned"] and not (run_dir / "results.json").exists()
    with open(run_dir / "samples.jsonl", "a") as f:
        f.write('{"key": "torn-by-the-kil')  # a half-written last line

    resumed = run_eval(adapter(model_spec), bench, run_dir, options)
    assert resumed["skipped"] == len(written) and resumed["inferred"] == clean["planned"] - len(written)
    keys = [row["key"] for row in rows_of(run_dir)]
    assert len(keys) == len(set(keys)) == clean["planned"]
    assert json.loads((run_dir / "results.json").read_text()) == json.loads(
        (tmp_path / "clean" / "results.json").read_text())
    again = run_eval(adapter(model_spec), bench, run_dir, options)
    assert again["inferred"] == 0 and len(rows_of(run_dir)) == clean["planned"]


def test_missing_and_corrupt_videos_are_marked_and_the_run_goes_on(model_spec, bench, tmp_path):
    import pyarrow.parquet as pq

    files = {r["video_id"]: r["file_name"] for r in pq.read_table(bench / "videos.parquet").to_pylist()}
    backup = tmp_path / "backup"
    shutil.copytree(bench / "videos", backup)
    (bench / files["v001x"]).unlink()
    corrupt = bench / files["v002x"]
    corrupt.write_bytes(corrupt.read_bytes()[:300])
    options = RunOptions(tasks=TWO_TASKS, conditions=["video", "blind"], progress=False)
    run_dir = tmp_path / "run"
    summary = run_eval(adapter(model_spec), bench, run_dir, options)
    status = {(r["video_id"], r["condition"]): r["status"] for r in rows_of(run_dir)}
    assert status[("v001x", "video")] == "missing_video" and status[("v002x", "video")] == "corrupt_video"
    assert status[("v001x", "blind")] == status[("v002x", "blind")] == status[("v003x", "video")] == "ok"
    coverage = summary["results"]["coverage"]
    assert coverage["video"]["unavailable_videos"] == ["v001x", "v002x"] and not coverage["video"]["complete"]
    assert coverage["video"]["answered"] == 4 and coverage["blind"]["complete"]
    assert summary["results"]["by_condition"]["video"]["overall"]["n"] == 4

    shutil.rmtree(bench / "videos")  # the hydrator fetches them again: those samples are planned anew
    shutil.copytree(backup, bench / "videos")
    rerun = run_eval(adapter(model_spec), bench, run_dir, options)
    assert rerun["inferred"] == 4 and rerun["results"]["coverage"]["video"]["complete"]


def test_each_video_is_decoded_once_for_all_tasks_conditions_and_rotations(model_spec, bench, tmp_path, monkeypatch):
    import modeling_mimic_chat.frames_mimic_chat

    calls = []
    real = modeling_mimic_chat.frames_mimic_chat.sample_frames
    monkeypatch.setattr(modeling_mimic_chat.frames_mimic_chat, "sample_frames", lambda path, **kw: calls.append(path) or real(path, **kw))
    options = RunOptions(tasks=["cam_tag"], conditions=["video", "blank", "single_frame", "blind"], circular=True,
                         progress=False)
    summary = run_eval(adapter(model_spec), bench, tmp_path / "run", options)
    assert len(calls) == len(set(calls)) == 4
    assert summary["planned"] == 4 * 1 * 4 * 4
    rows = rows_of(tmp_path / "run")
    first = next(r for r in rows if r["rotation"] == 1)
    assert first["frame_indices"]["spatial"] == [1, 4, 7, 10, 13, 16, 19, 22]  # segment centres of 24 frames
    golds = {r["rotation"]: r["gold"] for r in rows if r["question_id"] == first["question_id"]}
    assert len(set(golds.values())) == 4  # the answer moves with the rotation
    video_scores = summary["results"]["by_condition"]["video"]
    assert video_scores["overall"]["circular"]["n_questions"] == 4


def test_data_parallel_shards_merge_from_files_to_the_single_process_result(bench, tmp_path):
    single = run_eval(build_adapter("random:1"), bench, tmp_path / "single", RunOptions(progress=False))
    shard_dir = tmp_path / "sharded"
    first = run_eval(build_adapter("random:1"), bench, shard_dir, RunOptions(progress=False, rank=0, world_size=2))
    assert "results" not in first and not (shard_dir / "results.json").exists()
    second = run_eval(build_adapter("random:1"), bench, shard_dir, RunOptions(progress=False, rank=1, world_size=2))
    assert first["inferred"] + second["inferred"] == single["planned"]
    assert sorted(p.name for p in shard_dir.glob("samples*.jsonl")) == ["samples.jsonl"]
    assert second["results"] == single["results"]


def test_manifest_pins_versions_dataset_subset_model_and_seed(model_spec, bench, tmp_path):
    (bench / "videos" / "tiktok" / "v0" / "v003x.mp4").unlink()
    run_eval(adapter(model_spec), bench, tmp_path / "run", RunOptions(tasks=["cam_tag"], seed=5, progress=False))
    manifest = json.loads((tmp_path / "run" / "run_manifest.json").read_text())
    versions = manifest["harness"]["versions"]
    assert versions["torch"] and versions["transformers"] and versions["av"]
    assert manifest["dataset"]["revision"] == {
        "cam_tag": hashlib.sha256((bench / "cam_tag.parquet").read_bytes()).hexdigest()[:16]}
    assert manifest["dataset"]["hydrated_subset"]["n_present"] == 3
    assert manifest["model"]["identity"]["weights"] and manifest["model"]["identity"]["kind"] == "mimic-chat"
    assert manifest["evaluation"]["frame_policy"] == {"spatial": 8, "temporal": 16, "size": [32, 32], "mode": "exact"}
    assert manifest["seeds"] == {"seed": 5} and "cpu_count" in manifest["device"]


def test_unknown_condition_and_task_fail_before_any_work(bench, tmp_path):
    with pytest.raises(ValueError, match="unknown condition"):
        run_eval(build_adapter("random"), bench, tmp_path / "r", RunOptions(conditions=["audio"]))
    with pytest.raises(ValueError, match="unknown task 'ciu_tilte'"):
        run_eval(build_adapter("random"), bench, tmp_path / "r", RunOptions(tasks=["ciu_tilte"]))
