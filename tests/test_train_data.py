"""Isomorphic SFT data: training videos only, the bench's prompts and answer letters, real top-liked comments."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mimic_bench.build import build_task_tables, load_records
from mimic_bench.embed import get_embedder
from mimic_bench.prompts import ANSWER_FORMAT, gold_letter, render_mcq
from mimic_bench.tasks import TASK_NAMES, task_spec
from mimic_data.io import write_parquet
from mimic_data.select import OverlapError
from mimic_data.synth import synthesize_with_splits
from mimic_train.sft_data import META_FILE, SFT_FILE, assert_no_bench_videos, build_sft_data, curriculum_order


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    synthesize_with_splits(root, n=400, seed=3, bench_size=30)
    out = build_sft_data(root, root / "videos", root / "sft", seed=1, max_videos=24, rotations=4, comment_targets=2)
    return root, out, pq.read_table(out / SFT_FILE).to_pylist()


def test_sft_rows_use_training_videos_only_and_exist_on_disk(built):
    root, _, rows = built
    splits = {r["video_id"]: r["split"] for r in pq.read_table(root / "splits.parquet").to_pylist()}
    videos = {r["video_id"] for r in rows}
    assert len(videos) == 24 and all(splits[v] == "train" for v in videos)
    for row in rows:
        assert row["video_path"].endswith(f"{row['video_id']}.mp4") and Path(row["video_path"]).stat().st_size > 0


def test_mcq_rows_are_the_bench_prompts_with_balanced_letters(built):
    root, _, rows = built
    records = load_records(root, sorted({r["video_id"] for r in rows}))
    tables = build_task_tables(records, records, embedder=get_embedder("hashing"), seed=1)
    by_id = {r["question_id"]: r for r in rows}
    for task in TASK_NAMES:
        task_rows = [r for r in rows if r["task"] == task]
        assert len(task_rows) == 4 * tables[task].num_rows > 0, task
        for question in tables[task].to_pylist():
            for rotation in range(4):
                row = by_id[f"{question['question_id']}@r{rotation}"]
                assert row["prompt"] == render_mcq(question, rotation)
                assert row["target"] == gold_letter(question, rotation)
        assert task_rows[0]["prompt"].startswith(task_spec(task).instruction)
        assert task_rows[0]["prompt"].endswith(ANSWER_FORMAT)
        # With all four rotations every answer appears under every letter: exact balance.
        letters = [r["target"] for r in task_rows]
        assert len({letters.count(letter) for letter in "ABCD"}) == 1, task


def test_comment_targets_are_the_top_liked_real_comments(built):
    root, out, rows = built
    records = {r["video_id"]: r for r in load_records(root, sorted({r["video_id"] for r in rows}))}
    comment_rows = [r for r in rows if r["task"] == "comment_generation"]
    assert comment_rows
    for row in comment_rows:
        rank = int(row["question_id"].rsplit("@ref", 1)[1])
        comments = records[row["video_id"]]["comments"]
        assert rank <= 2 and row["target"] == comments[rank - 1]["text"]
        assert comments[rank - 1]["like_count"] == max(c["like_count"] for c in comments[rank - 1:])
    meta = json.loads((out / META_FILE).read_text())
    assert meta["rows"] == len(rows) and meta["videos"] == 24


def test_a_bench_video_in_the_sft_pool_is_refused(built, tmp_path):
    root, _, rows = built
    splits = pq.read_table(root / "splits.parquet")
    bench = splits.filter(pc.equal(splits["split"], "bench"))
    write_parquet(tmp_path / "videos.parquet", bench)
    sft_videos = {r["video_id"] for r in rows}
    assert_no_bench_videos(sft_videos, tmp_path)  # the real bench: no overlap
    leaked = rows[0]["video_id"]
    write_parquet(tmp_path / "cam_tag.parquet", bench.slice(0, 1).set_column(0, "video_id", pa.array([leaked])))
    with pytest.raises(OverlapError, match=leaked):
        assert_no_bench_videos(sft_videos, tmp_path)


def test_curriculum_order_writes_warmup_blocks_first_then_every_row_once_per_epoch(built):
    _, _, rows = built
    ordered = curriculum_order(rows, [(("cam_cat",), 150, 1.0), (("cam_cat", "ciu_title"), 40, 0.5)], epochs=2, seed=5)
    assert len(ordered) == 150 + 40 + 2 * len(rows)
    first, second, rest = ordered[:150], ordered[150:190], ordered[190:]
    assert {r["task"] for r in first} == {"cam_cat"} and {r["phase"] for r in first} == {"warmup1"}
    cam_cat_ids = {r["question_id"] for r in rows if r["task"] == "cam_cat"}
    assert len(cam_cat_ids) < 150 and {r["question_id"] for r in first} == cam_cat_ids  # cycled through all of them
    assert {r["task"] for r in second} <= {"cam_cat", "ciu_title"} and {r["phase"] for r in second} == {"warmup2"}
    # Slot text is the gold option's text: every row of the first block, about half of the second, none afterwards.
    assert all(r["slot_text"] == r["answer_text"] is not None for r in first)
    shown = [r for r in second if r["slot_text"] is not None]
    assert 10 <= len(shown) <= 30 and all(r["slot_text"] == r["answer_text"] for r in shown)
    for row in first[:20]:
        gold_line = next(line for line in row["prompt"].split("\n") if line.startswith(row["target"] + ". "))
        assert gold_line == f"{row['target']}. {row['answer_text']}"
    assert all(r["slot_text"] is None for r in rest)
    key = lambda r: r["question_id"]  # noqa: E731
    for epoch, chunk in enumerate((rest[:len(rows)], rest[len(rows):]), start=1):
        assert sorted(map(key, chunk)) == sorted(map(key, rows)) and {r["phase"] for r in chunk} == {f"epoch{epoch}"}
    assert [key(r) for r in rest[:len(rows)]] != [key(r) for r in rows]  # shuffled
    block = [(("cam_cat",), 150, 0.5)]
    assert curriculum_order(rows, block, 1, seed=5) == curriculum_order(rows, block, 1, seed=5)
    for bad in [(("cam_kat",), 10, 0.0), (("comment_generation",), 10, 0.0), (("cam_cat",), 10, 1.5)]:
        with pytest.raises(ValueError, match="warm-up block 1"):
            curriculum_order(rows, [bad], 1, seed=0)
