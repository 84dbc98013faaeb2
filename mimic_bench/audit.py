"""`mimic bench audit`: is the bench balanced, can it be solved without the video, and can it be solved with it?

Measured per task, written to `<bench>/audit.json` and printed as a table:
- letter balance (share of answers per letter; the builder's target is 25 % ± 1 %);
- answer vs distractor length (mean characters) and how often the answer is the longest option;
- text-only blind heuristics, chance 25 %: `longest` option, `most_similar_to_question` (embedding cosine with the
  instruction), `odd_one_out` (lowest mean cosine to the other options), and `classifier` — a logistic regression over
  each option's hashed word n-grams, length and style features and its similarity to the other options;
- two-sided, on two builds: every heuristic's accuracy with its standard error at chance, SE = sqrt(p(1-p)/n) with
  p = 1/4, and its departure z = (accuracy - 1/4) / SE; a heuristic is flagged when |z| > DEPARTURE_SE (3.5) in EITHER
  direction — below chance is a cue too (a model that learned the opposite preference falls below chance). The two
  builds are the bench itself (classifier trained on the audit build) and the AUDIT BUILD: a seeded sample of train
  videos run through the same builder (distractors from that sample), large enough to see small cues (at 2,000
  videos SE is about 1 point); there the classifier is cross-fitted (trained on one half of the questions, scored on
  the other, and back), never scored on questions it was trained on;
- the oracle ceiling per task on both builds when the data folder is a synthetic world (mimic_bench.oracle): the
  expected accuracy of a viewer that sees exactly what each video shows;
- overlap with the train pool: bench/train near-duplicate check (mimic_data.select.check_no_overlap), distractors that
  come from train videos, and the share of bench answers whose normalised text also occurs as the same field of a
  sampled train video (templated worlds and closed sets such as categories repeat texts; this is reported, not failed);
- per question `blind_solvable`: the classifier gives the answer >= 50 % probability, or >= 3 of the 4 blind
  baselines pick it. The `hard` subset is every question that is not blind-solvable.
The audit writes each question's `decidable_from` into the bench's task tables (mimic_bench.oracle: "text" when
blind-solvable, else "content" when the oracle singles out the answer, else "neither"; null for content on real data).
`blind_ok` is True when no heuristic departs from chance on any task, on either build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mimic_data.io import atomic_write_json, write_parquet

from .build import build_task_tables, load_records
from .embed import Embedder
from .options import generic_comments, normalise, style_signature
from .oracle import decidable_from_content, load_world, oracle_accuracy
from .tasks import LETTERS, N_OPTIONS, TASK_NAMES, task_spec

AUDIT_FILE = "audit.json"
BASELINES = ("longest", "most_similar_to_question", "odd_one_out", "classifier")
CHANCE = 1 / N_OPTIONS
DEPARTURE_SE = 3.5  # |accuracy - chance| beyond this many standard errors flags a heuristic
SOLVABLE_PROBABILITY = 0.5
SOLVABLE_VOTES = 3
CROSS_FIT_FOLDS = 2


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


def _fit_classifier(features, questions: Sequence[Mapping[str, Any]], seed: int):
    from sklearn.linear_model import LogisticRegression

    labels = np.array([i == q["answer_idx"] for q in questions for i in range(N_OPTIONS)], dtype=np.int64)
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features, labels)


def _answer_probabilities(classifier, features, n_questions: int) -> np.ndarray:
    """[question, option] softmax over each option set of the classifier's scores."""
    scores = classifier.decision_function(features).reshape(n_questions, N_OPTIONS)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    return probs / probs.sum(axis=1, keepdims=True)


def _heuristics(questions: Sequence[Mapping[str, Any]], sims: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    lengths = np.array([[len(o) for o in q["options"]] for q in questions])
    return {
        "longest": lengths.argmax(axis=1),
        "most_similar_to_question": sims[..., 0].argmax(axis=1),
        "odd_one_out": sims[..., 1].argmin(axis=1),
        "classifier": probs.argmax(axis=1),
        "classifier_answer_probability": probs[np.arange(len(questions)), [q["answer_idx"] for q in questions]],
    }


def two_sided(correct: Sequence[bool] | np.ndarray) -> dict[str, Any]:
    """Accuracy of a heuristic with its standard error at chance and its departure from chance in SEs."""
    n = len(correct)
    accuracy = float(np.mean(correct)) if n else float("nan")
    se = float(np.sqrt(CHANCE * (1 - CHANCE) / n)) if n else float("nan")
    z = (accuracy - CHANCE) / se if n else float("nan")
    return {"accuracy": accuracy, "se": se, "z": round(z, 2), "departs": bool(n and abs(z) > DEPARTURE_SE)}


def _audit_build_heuristics(halves: Sequence[Sequence[Mapping[str, Any]]], embedder: Embedder,
                            seed: int) -> dict[str, dict[str, Any]]:
    """Two-sided heuristics on the audit build; the classifier is cross-fitted: trained on one half, scored on the
    other (the halves were built from disjoint videos, so no option text is seen in training and scoring)."""
    answers, predictions = [], {name: [] for name in BASELINES}
    for k, held in enumerate(halves):
        train = [q for j, half in enumerate(halves) if j != k for q in half]
        features, sims = _option_features(held, embedder)
        train_features, _ = _option_features(train, embedder)
        probs = _answer_probabilities(_fit_classifier(train_features, train, seed), features, len(held))
        for name, predicted in _heuristics(held, sims, probs).items():
            if name in predictions:
                predictions[name].extend(predicted.tolist())
        answers.extend(q["answer_idx"] for q in held)
    return {name: two_sided(np.array(predictions[name]) == np.array(answers)) for name in BASELINES}


def _ceiling(questions: Sequence[Mapping[str, Any]], world: Mapping[str, Mapping[str, Any]] | None) -> float | None:
    return float(np.mean([oracle_accuracy(q, world[q["video_id"]]) for q in questions])) if world else None


def audit_task(bench: Sequence[Mapping[str, Any]], audit_halves: Sequence[Sequence[Mapping[str, Any]]],
               train_texts: set[str], train_ids: set[str], embedder: Embedder, seed: int = 0,
               world: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The audit of one task's bench questions (rows of <task>.parquet) against its audit build, given as the
    questions of two halves built from disjoint train videos.

    `world` (video id -> latent content, mimic_bench.oracle.load_world) gives the oracle ceilings and content
    decidability; without it (real data) they are null."""
    n = len(bench)
    train_questions = [q for half in audit_halves for q in half]
    answers = np.array([q["answer_idx"] for q in bench])
    letters = {letter: float(np.mean(answers == i)) for i, letter in enumerate(LETTERS)}
    answer_len = [len(q["options"][q["answer_idx"]]) for q in bench]
    distractor_len = [len(o) for q in bench for i, o in enumerate(q["options"]) if i != q["answer_idx"]]
    train_features, _ = _option_features(train_questions, embedder)
    classifier = _fit_classifier(train_features, train_questions, seed)
    features, sims = _option_features(bench, embedder)
    predictions = _heuristics(bench, sims, _answer_probabilities(classifier, features, n))
    correct = {name: predictions[name] == answers for name in BASELINES}
    votes = sum(correct[name].astype(int) for name in BASELINES)
    solvable = (predictions["classifier_answer_probability"] >= SOLVABLE_PROBABILITY) | (votes >= SOLVABLE_VOTES)
    heuristics = {"bench": {name: two_sided(correct[name]) for name in BASELINES},
                  "audit_build": _audit_build_heuristics(audit_halves, embedder, seed)}
    decidable = ["text" if s else ("content" if decidable_from_content(q, world[q["video_id"]]) else "neither")
                 if world else ("text" if s else None) for q, s in zip(bench, solvable, strict=True)]
    return {
        "n_questions": n,
        "n_audit_build_questions": len(train_questions),
        "letter_share": letters,
        "letter_balance_ok": all(abs(v - 0.25) <= 0.01 + 1 / max(n, 1) for v in letters.values()),
        "answer_length_mean": float(np.mean(answer_len)),
        "distractor_length_mean": float(np.mean(distractor_len)),
        "answer_is_longest": float(np.mean(predictions["longest"] == answers)),
        "blind": {name: heuristics["bench"][name]["accuracy"] for name in BASELINES},
        "heuristics": heuristics,
        "blind_ok": not any(h["departs"] for build in heuristics.values() for h in build.values()),
        "oracle_ceiling": {"bench": _ceiling(bench, world), "audit_build": _ceiling(train_questions, world)},
        "distractors_from_train": sum(v in train_ids for q in bench for v in q["distractor_video_ids"]),
        "answer_text_in_train_sample": float(np.mean([normalise(q["options"][q["answer_idx"]]) in train_texts
                                                      for q in bench])),
        "blind_solvable_share": float(np.mean(solvable)),
        "decidable_from": decidable,
        "hard_question_ids": [q["question_id"] for q, s in zip(bench, solvable, strict=True) if not s],
    }


def audit(bench_dir: str | Path, data_dir: str | Path, embedder: Embedder, seed: int = 0,
          train_videos: int = 2000) -> dict[str, Any]:
    """Audit every task table in bench_dir against an audit build of the train pool of the MIMIC-Data folder.

    Writes audit.json and fills the `decidable_from` column of every task table in bench_dir."""
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
    # two halves with their own distractor pools: the classifier is cross-fitted on them (_audit_build_heuristics)
    halves = [train_records[k::CROSS_FIT_FOLDS] for k in range(CROSS_FIT_FOLDS)]
    half_tables = [build_task_tables(half, half, embedder=embedder, seed=seed, tasks=tasks, duplicate_groups=groups)
                   for half in halves]
    generic = generic_comments(train_records)
    world = load_world(data_dir)
    report: dict[str, Any] = {"seed": seed, "embedder": embedder.name, "train_sample_videos": len(sample_ids),
                              "chance": CHANCE, "departure_se": DEPARTURE_SE,
                              "bench_train_overlap": "none (check_no_overlap passed)", "tasks": {}}
    train_id_set = set(train_ids)
    for task in tasks:
        option = task_spec(task).option
        texts = {normalise(t) for r in train_records if (t := option(r, generic))}
        table = pq.read_table(bench_dir / f"{task}.parquet")
        result = audit_task(table.to_pylist(), [t[task].to_pylist() for t in half_tables], texts, train_id_set,
                            embedder, seed, world)
        column = table.schema.get_field_index("decidable_from")
        write_parquet(bench_dir / f"{task}.parquet",
                      table.set_column(column, "decidable_from", pa.array(result.pop("decidable_from"), pa.string())))
        report["tasks"][task] = result
    report["blind_ok"] = all(t["blind_ok"] for t in report["tasks"].values())
    report["letter_balance_ok"] = all(t["letter_balance_ok"] for t in report["tasks"].values())
    hard = sum(len(t["hard_question_ids"]) for t in report["tasks"].values())
    report["hard_questions"] = hard
    atomic_write_json(bench_dir / AUDIT_FILE, report)
    return report


def _with_se(h: Mapping[str, Any]) -> str:
    return f"{100 * h['accuracy']:.1f} ± {100 * h['se']:.1f}"


def _largest_departure(heuristics: Mapping[str, Mapping[str, Any]]) -> str:
    name, h = max(heuristics.items(), key=lambda item: abs(item[1]["z"]))
    return f"{h['z']:+.1f} ({name})"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def audit_table(report: Mapping[str, Any]) -> str:
    """The audit as a Markdown table: bench and audit-build figures, heuristics as accuracy ± SE at chance."""
    from mimic_cards import markdown_table

    rows = []
    for task, t in report["tasks"].items():
        build, bench, ceiling = t["heuristics"]["audit_build"], t["heuristics"]["bench"], t["oracle_ceiling"]
        rows.append([task, f"{t['n_questions']} / {t['n_audit_build_questions']}",
                     "/".join(f"{100 * t['letter_share'][x]:.0f}" for x in LETTERS),
                     f"{_percent(ceiling['bench'])} / {_percent(ceiling['audit_build'])}",
                     *[_with_se(build[b]) for b in BASELINES],
                     f"{_largest_departure(bench)} / {_largest_departure(build)}",
                     100 * t["answer_text_in_train_sample"], 100 * (1 - t["blind_solvable_share"])])
    header = ["task", "questions (bench / audit build)", "A/B/C/D %", "oracle ceiling % (bench / audit build)",
              "longest %", "sim-to-question %", "odd-one-out %", "text classifier %",
              "largest departure, SE (bench / audit build)", "answer text in train %", "hard %"]
    return markdown_table(header, rows)
