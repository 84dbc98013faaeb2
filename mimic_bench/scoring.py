"""THE scoring implementation: answer extraction (mimic_bench.extract) and the statistics every report uses.

`score(samples)` takes per-sample dicts with at least `question_id, video_id, task, gold` (letter) and either
`response` (raw model text; `options` — the option texts in shown order — lets the ladder match option text) or
`letter` (already a letter, e.g. letter-likelihood scoring; None = no answer); optional `rotation` (int) and
`condition` (video | blind | single_frame | blank; default video).

Definitions (documented in the card and the metric module):
- `acc`: correct / all questions, unparsed counted wrong — the headline; `acc_valid`: correct / parsed;
  `unparsed_rate`: unparsed / all.
- Overall = the MICRO average over all questions of all tasks (as in the paper's table, whose Overall is not the mean of
  its seven columns); per-axis likewise micro over the axis's questions; `macro_task_mean` is reported beside it only
  for comparison.
- Headline numbers use rotation 0 (or samples without a rotation); `circular_acc` counts a question right only if every
  rotation present for it (at least two) is right; `acc_all_rotations` pools all rotations.
- `ci_low/ci_high`: percentile bootstrap, resampling VIDEOS with replacement (questions of one video are correlated),
  seeded; `per_letter_recall` per gold letter and `rstd` its standard deviation (position bias).
- With several conditions, the headline block is the `video` condition (or the only one present) and `by_condition`
  holds every condition's block plus `video_gain` (acc(video) − acc(blind)) per task where both exist.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .extract import extract_answer
from .tasks import AXES, LETTERS, TASK_NAMES, TASKS_BY_NAME

__all__ = ["extract_answer", "prepare_samples", "score", "score_condition"]

DEFAULT_CONDITION = "video"


class SampleError(ValueError):
    """A sample is malformed; names the sample."""


def prepare_samples(samples: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate samples and extract letters; each row carries `letter`, `rule` (which ladder rule fired) and `correct`,
    for the harness to log per sample."""
    out, seen = [], set()
    for i, s in enumerate(samples):
        where = f"sample {i} (question_id={s.get('question_id')!r})"
        for key in ("question_id", "video_id", "task", "gold"):
            if s.get(key) is None:
                raise SampleError(f"{where}: missing {key!r}")
        if s["task"] not in TASKS_BY_NAME:
            raise SampleError(f"{where}: unknown task {s['task']!r}; known: {', '.join(TASK_NAMES)}")
        if s["gold"] not in LETTERS:
            raise SampleError(f"{where}: gold must be one of {LETTERS}, got {s['gold']!r}")
        if "letter" in s:
            letter, rule = s["letter"], "given"
            if letter is not None and letter not in LETTERS:
                raise SampleError(f"{where}: letter must be one of {LETTERS} or None, got {letter!r}")
            if letter is None:
                rule = "unparsed"
        elif "response" in s:
            letter, rule = extract_answer(s["response"], s.get("options") or [""] * len(LETTERS))
        else:
            raise SampleError(f"{where}: needs 'response' or 'letter'")
        rotation = s.get("rotation")
        condition = s.get("condition") or DEFAULT_CONDITION
        key = (s["question_id"], rotation, condition)
        if key in seen:
            raise SampleError(f"{where}: duplicate sample for rotation {rotation!r}, condition {condition!r}")
        seen.add(key)
        out.append({"question_id": s["question_id"], "video_id": s["video_id"], "task": s["task"],
                    "axis": TASKS_BY_NAME[s["task"]].axis, "gold": s["gold"], "letter": letter, "rule": rule,
                    "correct": letter == s["gold"], "rotation": rotation, "condition": condition})
    return out


def _block(rows: list[dict[str, Any]], weights: np.ndarray | None, video_index: dict[str, int]) -> dict[str, Any]:
    n = len(rows)
    n_valid = sum(r["letter"] is not None for r in rows)
    n_correct = sum(r["correct"] for r in rows)
    block = {"n": n, "n_valid": n_valid, "n_correct": n_correct,
             "acc": n_correct / n if n else None, "acc_valid": n_correct / n_valid if n_valid else None,
             "unparsed_rate": (n - n_valid) / n if n else None, "ci_low": None, "ci_high": None}
    if weights is not None and n:
        correct = np.zeros(len(video_index))
        count = np.zeros(len(video_index))
        for r in rows:
            correct[video_index[r["video_id"]]] += r["correct"]
            count[video_index[r["video_id"]]] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (weights @ correct) / (weights @ count)
        block["ci_low"], block["ci_high"] = (float(x) for x in np.nanpercentile(boot, [2.5, 97.5]))
    return block


def _letter_recall(rows: list[dict[str, Any]]) -> tuple[dict[str, float | None], float | None]:
    recall = {}
    for letter in LETTERS:
        gold = [r for r in rows if r["gold"] == letter]
        recall[letter] = sum(r["correct"] for r in gold) / len(gold) if gold else None
    present = [v for v in recall.values() if v is not None]
    return recall, float(np.std(present)) if present else None


def _circular(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_question: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        if r["rotation"] is not None:
            by_question[r["question_id"]].append(r["correct"])
    groups = [v for v in by_question.values() if len(v) >= 2]
    if not groups:
        return None
    return {"circular_acc": sum(all(g) for g in groups) / len(groups), "n_questions": len(groups),
            "acc_all_rotations": sum(sum(g) for g in groups) / sum(len(g) for g in groups)}


def score_condition(rows: list[dict[str, Any]], n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Metrics of prepared samples of one condition (see module doc)."""
    headline = [r for r in rows if r["rotation"] in (None, 0)] or rows
    videos = sorted({r["video_id"] for r in headline})
    video_index = {v: i for i, v in enumerate(videos)}
    weights = None
    if n_bootstrap and videos:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(len(videos), np.full(len(videos), 1 / len(videos)), size=n_bootstrap)
    per_task = {}
    for task in TASK_NAMES:
        task_rows = [r for r in headline if r["task"] == task]
        if not task_rows:
            continue
        block = _block(task_rows, weights, video_index)
        block["per_letter_recall"], block["rstd"] = _letter_recall(task_rows)
        block["circular"] = _circular([r for r in rows if r["task"] == task])
        per_task[task] = block
    per_axis = {axis: _block([r for r in headline if r["axis"] == axis], weights, video_index)
                for axis in AXES if any(r["axis"] == axis for r in headline)}
    overall = _block(headline, weights, video_index)
    overall["per_letter_recall"], overall["rstd"] = _letter_recall(headline)
    overall["circular"] = _circular(rows)
    task_accs = [b["acc"] for b in per_task.values()]
    return {"overall": overall, "per_task": per_task, "per_axis": per_axis,
            "macro_task_mean": float(np.mean(task_accs)) if task_accs else None,
            "parse_rules": dict(sorted(Counter(r["rule"] for r in rows).items()))}


def score(samples: Iterable[Mapping[str, Any]], n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Score raw or extracted samples; returns the headline condition's metrics (+ by_condition when several)."""
    rows = prepare_samples(samples)
    if not rows:
        raise SampleError("no samples to score")
    conditions = sorted({r["condition"] for r in rows})
    if DEFAULT_CONDITION in conditions:
        primary = DEFAULT_CONDITION
    elif len(conditions) == 1:
        primary = conditions[0]
    else:
        raise SampleError(f"samples mix conditions {conditions} without {DEFAULT_CONDITION!r}; score them apart")
    blocks = {c: score_condition([r for r in rows if r["condition"] == c], n_bootstrap, seed) for c in conditions}
    result = {"condition": primary, "n_samples": len(rows), **blocks[primary]}
    if len(conditions) > 1:
        result["by_condition"] = blocks
        if "blind" in blocks:
            result["video_gain"] = {t: b["acc"] - blocks["blind"]["per_task"][t]["acc"]
                                    for t, b in blocks[primary]["per_task"].items()
                                    if t in blocks["blind"]["per_task"]}
    return result
