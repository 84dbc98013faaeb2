"""The demo bench end to end (build -> audit -> release) and `load_dataset` on every config, before and after videos
are present (the videofolder layout of the release). Hashing embedder: fast, no model weights."""

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from mimic_bench.release import CONFIGS
from mimic_bench.tasks import TASK_NAMES
from mimic_data.io import write_parquet
from mimic_data.render import video_relpath
from mimic_data.synth import WORLD_FILE, render, synthesize_with_splits
from mimic_demo import build_demo_bench


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    world = synthesize_with_splits(tmp_path_factory.mktemp("world"), n=1500, seed=5, bench_size=40)
    paths = build_demo_bench(world, tmp_path_factory.mktemp("demo"), seed=0, train_videos=150)
    return world, paths


def test_release_folder_has_every_config_and_a_card(demo):
    _, paths = demo
    out = paths["release"]
    assert all((out / f"{c}.parquet").exists() for c in CONFIGS)
    front = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    configs = {c["config_name"]: c for c in front["configs"]}
    assert set(configs) == set(CONFIGS)
    assert configs["cam_tag"]["data_files"] == [{"split": "test", "path": ["cam_tag.parquet", "videos/**/*.mp4"]}]
    assert configs["cam_tag"]["metadata_filenames"] == ["cam_tag.parquet"]
    assert "extra_gated_prompt" in front
    audit = json.loads((out / "audit.json").read_text())
    assert audit["letter_balance_ok"]
    for task, report in audit["tasks"].items():
        ids = set(pq.read_table(out / f"{task}.parquet")["question_id"].to_pylist())
        assert set(report["hard_question_ids"]) <= ids
        assert set(report["blind"]) == {"longest", "most_similar_to_question", "odd_one_out", "classifier"}
    assert "text classifier %" in (out / "README.md").read_text()


def test_every_config_loads_without_videos(demo):
    _, paths = demo
    for config in CONFIGS:
        ds = load_dataset(str(paths["release"]), config, split="test")
        assert len(ds) == pq.read_metadata(paths["release"] / f"{config}.parquet").num_rows > 0, config
        if config in TASK_NAMES:
            assert len(ds[0]["options"]) == 4


def test_hydrated_config_yields_a_video_column(demo, tmp_path):
    world, paths = demo
    out = tmp_path / "MIMIC-Bench"
    out.mkdir()
    for f in paths["release"].iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    table = pq.read_table(out / "cam_tag.parquet")
    present = table["video_id"].to_pylist()[:2]  # "hydrate" two of the videos
    render(world, present, out, progress=False)
    assert (world / WORLD_FILE).exists()
    names = [video_relpath(p, v) if v in present else None
             for p, v in zip(table["platform"].to_pylist(), table["video_id"].to_pylist(), strict=True)]
    table = table.set_column(table.schema.get_field_index("file_name"), "file_name", pa.array(names, pa.string()))
    write_parquet(out / "cam_tag.parquet", table)
    ds = load_dataset(str(out), "cam_tag", split="test")
    assert "video" in ds.features and type(ds.features["video"]).__name__ == "Video"
    with_video = ds.filter(lambda row: row["video"] is not None)
    assert sorted(with_video["video_id"]) == sorted(present)
    assert pc.sum(pc.is_null(table["file_name"])).as_py() == len(ds) - 2


def test_release_never_ships_the_study_pool_and_its_card_documents_it(demo, tmp_path):
    from mimic_bench.release import release
    from mimic_bench.writer import STUDY_POOL_FILE, default_study_pool_dir, find_in_public

    _, paths = demo
    pool_dir = default_study_pool_dir(paths["bench"])
    pool = pq.read_table(pool_dir / STUDY_POOL_FILE).to_pylist()
    texts = [t for row in pool for t in row["comments"]]
    assert texts and not any(p.name == STUDY_POOL_FILE for p in paths["release"].rglob("*"))
    assert find_in_public(texts, [paths["release"]]) == {}  # configs, audit.json, build_stats.json and the card
    card = (paths["release"] / "README.md").read_text()
    assert "## The blind comment study: a private pool" in card
    assert f"In this copy {len(texts)} comments of {len(pool)} videos are held out" in card
    # A bench folder that holds the pool (copied in by mistake) is refused rather than released.
    (paths["bench"] / "private").mkdir()
    (paths["bench"] / "private" / STUDY_POOL_FILE).write_bytes((pool_dir / STUDY_POOL_FILE).read_bytes())
    try:
        with pytest.raises(ValueError, match=f"holds a private {STUDY_POOL_FILE}"):
            release(paths["bench"], tmp_path / "out")
    finally:
        (paths["bench"] / "private" / STUDY_POOL_FILE).unlink()
        (paths["bench"] / "private").rmdir()
