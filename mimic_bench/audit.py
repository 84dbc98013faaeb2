"""`mimic bench audit`: is the bench balanced, and can it be solved without the video?

Measured per task, written to `<bench>/audit.json` and printed as a table:
- letter balance (share of answers per letter; the builder's target is 25 % ± 1 %);
- answer vs distractor length (mean characters) and how often the answer is the longest option;
- text-only blind baselines, chance 25 %: `longest` option, `most_similar_to_question` (embedding cosine with the
  instruction), `odd_one_out` (lowest mean cosine to the other options), and `classifier` — a logistic regression over
  each option's hashed word n-grams, length and style features and its similarity to the other options, trained on the
  TRAINING POOL's questions (built by the same builder from a seeded sample of train videos, distractors from that
  sample), never on the bench; an option set's prediction is its highest-scoring option;
- overlap with the train pool: bench/train near-duplicate check (mimic_data.select.check_no_overlap), distractors that
  come from train videos, and the share of bench answers whose normalised text also occurs as the same field of a
  sampled train video (templated worlds and closed sets such as categories repeat texts; this is reported, not failed);
- per question `blind_solvable`: the classifier gives the answer >= 50 % probability, or >= 3 of the 4 blind
  baselines pick it. The `hard` subset is every question that is not blind-solvable.
`blind_ok` is True when every blind baseline stays <= 30 % on every task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mimic_data.io import atomic_write_json

from .build import build_task_tables, load_records
from .embed import Embedder
from .options import generic_comments, normalise, style_signature
from .tasks import LETTERS, N_OPTIONS, TASK_NAMES, task_spec

AUDIT_FILE = "audit.json"
BLIND_LIMIT = 0.30
BASELINES = ("longest", "most_similar_to_question", "odd_one_out", "classifier")
SOLVABLE_PROBABILITY = 0.5
SOLVABLE_VOTES = 3


def _option_features(questions: Sequence[Mapping[str, Any]], embedder: Embedder) -> tuple[Any, np.ndarray]:
    """(sparse feature matrix with one row per option, per-option [sim to question, mean sim to others])."""
    from scipy import sparse
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = [o for q in questions for o in q["options"]]
    vectors = embedder.vectors(texts).reshape(len(questions), N_OPTIONS, -1)
    instruction = embedder.vectors([q["question"] for q in questions])
    to_question = np.einsum("qod,qd->qo", vectors, instruction)
    pairwise = np.einsum("qod,qpd->qop", vectors, vectors)
    to_others = (pairwise.sum(axis=2) - np.einsum("qoo->qo", pairwise)) / (N_OPTIONS - 1)
    lengths = np.array([[len(o) for o in q["options"]] for q in questions], dtype=np.float64)
    rel_length = lengths / np.maximum(lengths.mean(axis=1, keepdims=True), 1.0)
    styles = np.array([[style_signature(o) for o in q["options"]] for q in questions], dtype=np.float64)
    dense = np.concatenate([
        rel_length[..., None], (lengths == lengths.max(axis=1, keepdims=True))[..., None],
        (lengths == lengths.min(axis=1, keepdims=True))[..., None], styles,
        to_question[..., None], to_others[..., None],
    ], axis=2).reshape(len(texts), -1)
    words = HashingVectorizer(ngram_range=(1, 2), n_features=2**14, alternate_sign=False, norm="l2").transform(texts)
    return sparse.hstack([words, sparse.csr_matrix(dense)]).tocsr(), np.stack([to_question, to_others], axis=2)


def _train_classifier(questions: Sequence[Mapping[str, Any]], embedder: Embedder, seed: int):
    from sklearn.linear_model import LogisticRegression

    features, _ = _option_features(questions, embedder)
    labels = np.array([i == q["answer_idx"] for q in questions for i in range(N_OPTIONS)], dtype=np.int64)
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features, labels)


def _blind_predictions(questions: Sequence[Mapping[str, Any]], embedder: Embedder, classifier) -> dict[str, Any]:
    features, sims = _option_features(questions, embedder)
    lengths = np.array([[len(o) for o in q["options"]] for q in questions])
    scores = classifier.decision_function(features).reshape(len(questions), N_OPTIONS)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return {
        "longest": lengths.argmax(axis=1),
        "most_similar_to_question": sims[..., 0].argmax(axis=1),
        "odd_one_out": sims[..., 1].argmin(axis=1),
        "classifier": probs.argmax(axis=1),
        "classifier_answer_probability": probs[np.arange(len(questions)), [q["answer_idx"] for q in questions]],
    }


def audit_task(bench: Sequence[Mapping[str, Any]], train_questions: Sequence[Mapping[str, Any]],
               train_texts: set[str], train_ids: set[str], embedder: Embedder, seed: int = 0) -> dict[str, Any]:
    """The audit of one task's bench questions (rows of <task>.parquet)."""
    n = len(bench)
    answers = np.array([q["answer_idx"] for q in bench])
    letters = {letter: float(np.mean(answers == i)) for i, letter in enumerate(LETTERS)}
    answer_len = [len(q["options"][q["answer_idx"]]) for q in bench]
    distractor_len = [len(o) for q in bench for i, o in enumerate(q["options"]) if i != q["answer_idx"]]
    classifier = _train_classifier(train_questions, embedder, seed)
    predictions = _blind_predictions(bench, embedder, classifier)
    correct = {name: predictions[name] == answers for name in BASELINES}
    votes = sum(correct[name].astype(int) for name in BASELINES)
    solvable = (predictions["classifier_answer_probability"] >= SOLVABLE_PROBABILITY) | (votes >= SOLVABLE_VOTES)
    return {
        "n_questions": n,
        "n_train_questions": len(train_questions),
        "letter_share": letters,
        "letter_balance_ok": all(abs(v - 0.25) <= 0.01 + 1 / max(n, 1) for v in letters.values()),
        "answer_length_mean": float(np.mean(answer_len)),
        "distractor_length_mean": float(np.mean(distractor_len)),
        "answer_is_longest": float(np.mean(predictions["longest"] == answers)),
        "blind": {name: float(np.mean(correct[name])) for name in BASELINES},
        "blind_ok": all(float(np.mean(correct[name])) <= BLIND_LIMIT for name in BASELINES),
        "distractors_from_train": sum(v in train_ids for q in bench for v in q["distractor_video_ids"]),
        "answer_text_in_train_sample": float(np.mean([normalise(q["options"][q["answer_idx"]]) in train_texts
                                                      for q in bench])),
        "blind_solvable_share": float(np.mean(solvable)),
        "hard_question_ids": [q["question_id"] for q, s in zip(bench, solvable, strict=True) if not s],
    }


def audit(bench_dir: str | Path, data_dir: str | Path, embedder: Embedder, seed: int = 0,
          train_videos: int = 2000) -> dict[str, Any]:
    """Audit every task table in bench_dir against the train pool of the MIMIC-Data folder; writes audit.json."""
    from mimic_data.select import check_no_overlap

    bench_dir, data_dir = Path(bench_dir), Path(data_dir)
    splits = pq.read_table(data_dir / "splits.parquet")
    records_ids = pq.read_table(data_dir / "records.parquet", columns=["video_id", "channel_id", "title"])
    check_no_overlap(records_ids, splits)  # reads ids, channels and titles only
    split_rows = splits.to_pylist()
    train_ids = sorted(r["video_id"] for r in split_rows if r["split"] == "train")
    rng = np.random.default_rng(seed)
    sample_ids = sorted(rng.choice(train_ids, size=min(train_videos, len(train_ids)), replace=False).tolist())
    train_records = load_records(data_dir, sample_ids)
    groups = {r["video_id"]: r["duplicate_group"] for r in split_rows}
    tasks = [t for t in TASK_NAMES if (bench_dir / f"{t}.parquet").exists()]
    train_tables = build_task_tables(train_records, train_records, embedder=embedder, seed=seed, tasks=tasks,
                                     duplicate_groups=groups)
    generic = generic_comments(train_records)
    report: dict[str, Any] = {"seed": seed, "embedder": embedder.name, "train_sample_videos": len(sample_ids),
                              "blind_limit": BLIND_LIMIT, "bench_train_overlap": "none (check_no_overlap passed)",
                              "tasks": {}}
    train_id_set = set(train_ids)
    for task in tasks:
        option = task_spec(task).option
        texts = {normalise(t) for r in train_records if (t := option(r, generic))}
        bench = pq.read_table(bench_dir / f"{task}.parquet").to_pylist()
        report["tasks"][task] = audit_task(bench, train_tables[task].to_pylist(), texts, train_id_set, embedder, seed)
    report["blind_ok"] = all(t["blind_ok"] for t in report["tasks"].values())
    report["letter_balance_ok"] = all(t["letter_balance_ok"] for t in report["tasks"].values())
    hard = sum(len(t["hard_question_ids"]) for t in report["tasks"].values())
    report["hard_questions"] = hard
    atomic_write_json(bench_dir / AUDIT_FILE, report)
    return report


def audit_table(report: Mapping[str, Any]) -> str:
    """The audit as a Markdown table (percentages)."""
    from mimic_cards import markdown_table

    rows = []
    for task, t in report["tasks"].items():
        rows.append([task, t["n_questions"], "/".join(f"{100 * t['letter_share'][x]:.0f}" for x in LETTERS),
                     round(t["answer_length_mean"], 1), round(t["distractor_length_mean"], 1),
                     *[100 * t["blind"][b] for b in BASELINES], 100 * t["answer_text_in_train_sample"],
                     100 * (1 - t["blind_solvable_share"])])
    header = ["task", "questions", "A/B/C/D %", "answer len", "distractor len", "longest %", "sim-to-question %",
              "odd-one-out %", "text classifier %", "answer text in train %", "hard %"]
    return markdown_table(header, rows)
