"""Prompt rendering for models: ONE implementation used by the evaluation harness, the SFT data builder and the Space.

A question row (a row of `<task>.parquet`) stores the instruction, the options in their stored order, the answer index
and four rotations. Rotation r shows `options[perm[r][0]], …, options[perm[r][3]]` as A–D.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .tasks import LETTERS

ANSWER_FORMAT = "Answer with the option's letter (A, B, C or D) only."


def shown_order(row: Mapping[str, Any], rotation: int | None = None) -> list[int]:
    """Indices into row["options"] in the order they are shown as A, B, C, D."""
    n = len(row["options"])
    if rotation is None:
        return list(range(n))
    rotations: Sequence[Sequence[int]] = row["rotations"]
    if not 0 <= rotation < len(rotations):
        raise IndexError(f"question {row.get('question_id')!r}: rotation {rotation} not in 0..{len(rotations) - 1}")
    return [int(i) for i in rotations[rotation]]


def shown_options(row: Mapping[str, Any], rotation: int | None = None) -> list[str]:
    return [row["options"][i] for i in shown_order(row, rotation)]


def gold_letter(row: Mapping[str, Any], rotation: int | None = None) -> str:
    """The letter under which the answer is shown in this rotation."""
    return LETTERS[shown_order(row, rotation).index(int(row["answer_idx"]))]


def render_mcq(row: Mapping[str, Any], rotation: int | None = None) -> str:
    """Instruction, lettered options, answer-format line."""
    lines = [row["question"]]
    lines += [f"{letter}. {text}" for letter, text in zip(LETTERS, shown_options(row, rotation), strict=False)]
    lines.append(ANSWER_FORMAT)
    return "\n".join(lines)


def render_comment_prompt(row: Mapping[str, Any]) -> str:
    """The comment-mimicking prompt; the references are never shown to the model being evaluated."""
    return row["prompt"]
