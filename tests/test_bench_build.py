"""Construction rules of the seven tasks, on a small synthetic world (hashing embedder: fast, no model weights)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from mimic_bench.build import STUDY_POOL_VIDEOS, build_task_tables, load_records, study_text_key
from mimic_bench.embed import get_embedder
from mimic_bench.options import generic_comments, normalise
from mimic_bench.popularity import popularity_options, target_ranks
from mimic_bench.prompts import gold_letter, render_mcq, shown_options
from mimic_bench.tasks import LETTERS, TASK_NAMES, Distractors, task_spec
from mimic_bench.writer import STUDY_POOL_FILE, build_bench, default_study_pool_dir, find_in_public
from mimic_data.synth import SPLITS_FILE, synthesize_with_splits


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    synthesize_with_splits(root, n=2500, seed=3, bench_size=160)
    bench = tmp_path_factory.mktemp("bench")
    build_bench(root, bench, seed=1, embedder="hashing")
    return root, bench, pq.read_table(root / SPLITS_FILE).to_pylist()


def _questions(bench, task):
    return pq.read_table(bench / f"{task}.parquet").to_pylist()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_options_distinct_and_answer_never_a_distractor(world, task):
    _, bench, _ = world
    rows = _questions(bench, task)
    assert len(rows) > 50
    for q in rows:
        norms = [normalise(o) for o in q["options"]]
        assert len(set(norms)) == 4, q["question_id"]
        assert q["answer"] == LETTERS[q["answer_idx"]]
        assert q["question_id"] == f"{task}:{q['video_id']}"


@pytest.mark.parametrize("task", [t for t in TASK_NAMES if t != "uiu_pop"])
def test_distractors_come_from_other_non_duplicate_bench_videos(world, task):
    root, bench, splits = world
    split_of = {r["video_id"]: r["split"] for r in splits}
    group = {r["video_id"]: r["duplicate_group"] for r in splits}
    records = {r["video_id"]: r for r in load_records(root, [v for v, s in split_of.items() if s == "bench"])}
    spec, generic = task_spec(task), generic_comments(records.values())
    for q in _questions(bench, task):
        others = q["distractor_video_ids"]
        assert len(set(others)) == 3 and q["video_id"] not in others
        assert all(split_of[v] == "bench" and group[v] != group[q["video_id"]] for v in others)
        if spec.distractors is Distractors.OTHER_VIDEOS:  # answer and distractors: the task's option function
            options = [spec.option(records[v], generic) for v in others]
            options.insert(q["answer_idx"], spec.option(records[q["video_id"]], generic))
            assert q["options"] == options


def test_uiu_pop_answer_is_the_most_liked_of_four_comments_of_the_same_video(world):
    root, bench, _ = world
    rows = _questions(bench, "uiu_pop")
    records = {r["video_id"]: r for r in load_records(root, [q["video_id"] for q in rows])}
    for q in rows:
        likes = {}
        for c in records[q["video_id"]]["comments"]:
            likes[c["text"]] = max(likes.get(c["text"], 0), c["like_count"])
        assert all(o in likes for o in q["options"])
        answer = q["options"][q["answer_idx"]]
        assert answer == records[q["video_id"]]["comments"][0]["text"]
        assert all(likes[o] < likes[answer] for i, o in enumerate(q["options"]) if i != q["answer_idx"])


def test_tiktok_videos_have_no_tag_question(world):
    _, bench, _ = world
    assert {q["platform"] for q in _questions(bench, "cam_tag")} == {"youtube"}


@pytest.mark.parametrize("task", TASK_NAMES)
def test_answer_letters_balanced(world, task):
    _, bench, _ = world
    counts = [sum(q["answer"] == letter for q in _questions(bench, task)) for letter in LETTERS]
    assert max(counts) - min(counts) <= 1


def test_rotations_are_consistent_permutations(world):
    _, bench, _ = world
    for q in _questions(bench, "ciu_title")[:20]:
        assert q["rotations"][0] == [0, 1, 2, 3]
        assert all(sorted(p) == [0, 1, 2, 3] for p in q["rotations"])
        golds = [gold_letter(q, r) for r in range(4)]
        assert sorted(golds) == list(LETTERS)  # the answer takes every letter once
        for r in range(4):
            prompt = render_mcq(q, r)
            shown = shown_options(q, r)
            assert f"{gold_letter(q, r)}. {q['options'][q['answer_idx']]}" in prompt
            assert shown[LETTERS.index(gold_letter(q, r))] == q["options"][q["answer_idx"]]
    with pytest.raises(IndexError, match="rotation 4"):
        render_mcq(q, 4)


def test_contrast_ceiling_holds_pairwise(world):
    _, bench, _ = world
    embedder = get_embedder("hashing")
    for q in _questions(bench, "ciu_title"):
        vecs = embedder.vectors(q["options"])
        sims = vecs @ vecs.T
        assert (sims[~np.eye(4, dtype=bool)] < task_spec("ciu_title").similarity_ceiling).all()


def test_build_is_deterministic(world, tmp_path):
    root, bench, _ = world
    build_bench(root, tmp_path, seed=1, embedder="hashing")
    for name in [*TASK_NAMES, "comment_generation", "videos"]:
        assert (tmp_path / f"{name}.parquet").read_bytes() == (bench / f"{name}.parquet").read_bytes(), name


def test_training_questions_draw_only_from_the_given_pool(world):
    root, _, splits = world
    train_ids = [r["video_id"] for r in splits if r["split"] == "train"][:150]
    train = load_records(root, train_ids)
    tables = build_task_tables(train, train, embedder=get_embedder("hashing"), seed=0, tasks=["ciu_title", "uiu_match"])
    for table in tables.values():
        rows = table.to_pylist()
        assert rows and all(set(q["distractor_video_ids"]) <= set(train_ids) for q in rows)


def test_comment_generation_keeps_top5_in_rank_order_less_the_held_out_study_comments(world):
    root, bench, _ = world
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    pool = {r["video_id"]: r for r in pq.read_table(default_study_pool_dir(bench) / STUDY_POOL_FILE).to_pylist()}
    held_out = {study_text_key(t) for r in pool.values() for t in r["comments"]}
    records = {r["video_id"]: r for r in load_records(root, [q["video_id"] for q in rows])}
    assert len(pool) == STUDY_POOL_VIDEOS and set(pool) <= set(records)
    for q in rows:
        comments = records[q["video_id"]]["comments"]
        if q["video_id"] not in pool:
            assert q["references"] == [c["text"] for c in comments[:5]]
        else:  # the next most-liked comments, in rank order
            assert q["references"] == [c["text"] for c in comments
                                       if study_text_key(c["text"]) not in held_out][:5]
        assert q["reference_likes"] == sorted(q["reference_likes"], reverse=True)
        assert q["file_name"] is None
    for video_id, row in pool.items():  # the most-liked comments that are not public, with their ranks and likes
        by_rank = {c["rank"]: c for c in records[video_id]["comments"]}
        assert [by_rank[r]["text"] for r in row["ranks"]] == row["comments"] and row["ranks"] == sorted(row["ranks"])
        assert [by_rank[r]["like_count"] for r in row["ranks"]] == row["like_counts"]


def test_no_study_comment_is_in_the_public_bench_and_the_build_proves_it(world, tmp_path):
    root, bench, _ = world
    pool_dir = default_study_pool_dir(bench)
    assert pool_dir.parent == bench.parent and bench not in pool_dir.parents
    texts = [t for r in pq.read_table(pool_dir / STUDY_POOL_FILE).to_pylist() for t in r["comments"]]
    assert len(texts) == 5 * STUDY_POOL_VIDEOS
    assert find_in_public(texts, [bench]) == {}
    stats = json.loads((bench / "build_stats.json").read_text())
    assert stats["study_pool"] == {"videos": STUDY_POOL_VIDEOS, "comments": len(texts),
                                   "checked_not_in_public_configs": True}
    # Every string of every config, lists included, was looked at: a copy with other case/emoji is still found.
    assert find_in_public([texts[0].upper() + " 😂"], [pool_dir]) == {texts[0].upper() + " 😂": f"{pool_dir}/"
                                                                       f"{STUDY_POOL_FILE}"}
    # The same seed gives the same pool, byte for byte, wherever it is written.
    build_bench(root, tmp_path / "bench", seed=1, embedder="hashing", study_pool_dir=tmp_path / "pool")
    assert (tmp_path / "pool" / STUDY_POOL_FILE).read_bytes() == (pool_dir / STUDY_POOL_FILE).read_bytes()
    with pytest.raises(ValueError, match="inside the public bench folder"):
        build_bench(root, tmp_path / "b2", seed=1, embedder="hashing", study_pool_dir=tmp_path / "b2" / "pool")


def test_popularity_target_ranks_and_short_snapshots():
    assert target_ranks(100) == (10, 50, 100)
    assert target_ranks(300) == (10, 50, 100)
    assert target_ranks(11) == (2, 6, 11)
    assert target_ranks(4) == (2, 3, 4)
    comments = [{"text": f"comment number {i}", "like_count": 10 - i, "rank": i + 1, "is_pinned": False}
                for i in range(3)]
    assert popularity_options({"comments": comments}, np.random.default_rng(0)) is None
    tied = [{"text": f"c{i}", "like_count": 5, "rank": i + 1, "is_pinned": False} for i in range(6)]
    assert popularity_options({"comments": tied}, np.random.default_rng(0)) is None  # ties: no unique answer


def test_unknown_video_ids_are_named(world):
    root, _, _ = world
    with pytest.raises(KeyError, match="not-a-video"):
        load_records(root, ["not-a-video"])
