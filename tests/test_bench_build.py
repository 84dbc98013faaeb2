"""Construction rules of the seven tasks, on a small synthetic world (hashing embedder: fast, no model weights)."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from mimic_bench.build import build_task_tables, load_records
from mimic_bench.embed import get_embedder
from mimic_bench.options import generic_comments, normalise
from mimic_bench.popularity import popularity_options, target_ranks
from mimic_bench.prompts import gold_letter, render_mcq, shown_options
from mimic_bench.tasks import LETTERS, TASK_NAMES, Distractors, task_spec
from mimic_bench.writer import build_bench
from mimic_data.io import write_parquet
from mimic_data.select import SelectionConfig, select_splits
from mimic_data.synth import synthesize


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    synthesize(root, n=2500, seed=3)
    splits = select_splits(pq.read_table(root / "records.parquet"), SelectionConfig(bench_size=160))
    write_parquet(root / "splits.parquet", splits)
    bench = tmp_path_factory.mktemp("bench")
    build_bench(root, bench, seed=1, embedder="hashing")
    return root, bench, splits.to_pylist()


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


def test_comment_generation_keeps_top5_in_rank_order(world):
    root, bench, _ = world
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    records = {r["video_id"]: r for r in load_records(root, [q["video_id"] for q in rows])}
    for q in rows[:30]:
        top = records[q["video_id"]]["comments"][:5]
        assert q["references"] == [c["text"] for c in top]
        assert q["reference_likes"] == sorted(q["reference_likes"], reverse=True)
        assert q["file_name"] is None


def test_popularity_target_ranks_and_short_snapshots():
    assert target_ranks(100) == (10, 50, 100)
    assert target_ranks(300) == (10, 50, 100)
    assert target_ranks(11) == (2, 6, 11)
    assert target_ranks(4) == (2, 3, 4)
    comments = [{"text": f"comment number {i}", "like_count": 10 - i, "rank": i + 1, "is_pinned": False}
                for i in range(3)]

    def form(text):
        return ((False,) * 4, 0)

    assert popularity_options({"comments": comments}, np.random.default_rng(0), form) is None
    tied = [{"text": f"c{i}", "like_count": 5, "rank": i + 1, "is_pinned": False} for i in range(6)]
    assert popularity_options({"comments": tied}, np.random.default_rng(0), form) is None  # ties: no unique answer


def test_unknown_video_ids_are_named(world):
    root, _, _ = world
    with pytest.raises(KeyError, match="not-a-video"):
        load_records(root, ["not-a-video"])
