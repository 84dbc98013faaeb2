import pyarrow as pa
import pytest
from datasets import load_dataset

from mimic_data.release import comments_table, release
from mimic_data.select import (
    SPLITS_SCHEMA,
    OverlapError,
    SelectionConfig,
    check_no_overlap,
    normalise_title,
    select_splits,
)
from mimic_data.world import WorldConfig, generate_world


@pytest.fixture(scope="module")
def world():
    records, _ = generate_world(WorldConfig(n=3000, seed=5))
    return records


def test_tiers_size_and_zero_overlap(world):
    splits = select_splits(world, SelectionConfig(bench_size=100))
    rows = splits.to_pylist()
    bench = [r for r in rows if r["split"] == "bench"]
    assert len(bench) == 100
    assert all(r["tier"] in ("top2", "top5") and r["percentile"] > 0.95 for r in bench)
    top2 = [r for r in bench if r["tier"] == "top2"]
    assert all(r["percentile"] > 0.98 for r in top2)
    # the top-2 % tier is exhausted before any top-5 % video enters the bench
    n_comments = {r["video_id"]: len(r["comments"]) for r in world.to_pylist()}
    eligible_top2 = {r["video_id"] for r in rows if r["percentile"] > 0.98 and n_comments[r["video_id"]] >= 5}
    assert len(top2) < 100 and {r["video_id"] for r in top2} == eligible_top2
    check_no_overlap(world, splits)
    # each platform reaches the bench roughly in proportion to its size
    share_yt = sum(r["platform"] == "youtube" for r in bench) / 100
    assert 0.35 < share_yt < 0.75


def test_near_duplicates_of_bench_videos_are_excluded_and_checked(world):
    rows = world.to_pylist()
    splits = select_splits(world, SelectionConfig(bench_size=50)).to_pylist()
    bench_id = next(s["video_id"] for s in splits if s["split"] == "bench")
    original = next(r for r in rows if r["video_id"] == bench_id)
    repost = dict(original, video_id="zz-repost", title=original["title"].upper() + " !!! 🔥")
    records = pa.Table.from_pylist(rows + [repost], schema=world.schema)
    new_splits = select_splits(records, SelectionConfig(bench_size=50))
    by_id = {r["video_id"]: r["split"] for r in new_splits.to_pylist()}
    assert {by_id[bench_id], by_id["zz-repost"]} == {"bench", "excluded"}
    check_no_overlap(records, new_splits)
    # a stale split that puts the repost in train is caught, and so is a content-hash duplicate
    stale = new_splits.to_pylist()
    for r in stale:
        if r["split"] == "excluded" and r["video_id"] in (bench_id, "zz-repost"):
            r["split"] = "train"
    with pytest.raises(OverlapError, match="zz-repost|" + bench_id):
        check_no_overlap(records, pa.Table.from_pylist(stale, schema=new_splits.schema))
    train_id = next(r["video_id"] for r in new_splits.to_pylist() if r["split"] == "train")
    with pytest.raises(OverlapError):
        check_no_overlap(records, new_splits, content_hashes={bench_id: "h1", train_id: "h1"})


def test_normalise_title():
    assert normalise_title("WOW!! Red   Ball 🔥") == normalise_title("wow red ball")


def test_release_loads_with_datasets_and_is_deterministic(world, tmp_path):
    splits = select_splits(world, SelectionConfig(bench_size=100))
    release(world, splits, tmp_path / "a")
    release(world, splits, tmp_path / "b")
    for name in ("videos.parquet", "comments.parquet", "splits.parquet", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not list((tmp_path / "a").rglob("*.mp4"))
    videos = load_dataset(str(tmp_path / "a"), "videos", split="snapshot")
    comments = load_dataset(str(tmp_path / "a"), "comments", split="snapshot")
    split_ds = load_dataset(str(tmp_path / "a"), "splits", split="snapshot")
    assert len(videos) == len(world) == len(split_ds)
    assert len(comments) == len(comments_table(world)) > len(world)
    assert set(comments.column_names) == {"video_id", "rank", "text", "like_count", "is_pinned"}  # no authors
    assert "comments" not in videos.column_names
    card = (tmp_path / "a" / "README.md").read_text()
    assert "Personal and Sensitive Information" in card and f"{len(world)} videos" in card


def test_release_refuses_overlap_and_writes_nothing(world, tmp_path):
    rows = world.to_pylist()
    splits = select_splits(world, SelectionConfig(bench_size=50)).to_pylist()
    bench_id = next(r["video_id"] for r in splits if r["split"] == "bench")
    records = pa.Table.from_pylist(rows + [dict(next(r for r in rows if r["video_id"] == bench_id), video_id="dup")],
                                   schema=world.schema)
    leaked = splits + [dict(next(r for r in splits if r["video_id"] == bench_id), video_id="dup", split="train")]
    with pytest.raises(OverlapError, match="dup"):
        release(records, pa.Table.from_pylist(leaked, schema=SPLITS_SCHEMA), tmp_path / "out")
    assert not (tmp_path / "out").exists()
