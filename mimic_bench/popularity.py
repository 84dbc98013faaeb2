"""UIU-Pop's rule: which four comments of one video are shown, and which of them is the answer.

Answer: the rank-1 comment (most liked in the snapshot). Distractors: one comment from each of three like-rank windows
around the target ranks 10, 50 and 100 — the windows are [round(0.8 t), round(1.2 t)], i.e. ranks 8-12, 40-60 and
80-100. When a video has fewer than 100 comments in its snapshot the targets shrink in proportion,
t_k = round(T_k * n / 100), raised so they are at least 2, 3, 4 and strictly increasing (n = 11 gives 2, 6, 11), and
never beyond n. Inside a window the comment chosen is the one closest in style to the answer (same formatting
signature first, then the nearest length; ties broken by the question's seeded generator), so that "longest" or
"has an emoji" does not point at the answer. A candidate must have strictly fewer likes than the answer (a tie would
make two answers right), a text different from the answer's and the other picks (after normalisation), and must not
be `exclude`d (the video's UIU-Match answer). A window with no valid candidate falls back to the valid comment
nearest its target rank. A video with fewer than four usable comments gets no UIU-Pop question.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .options import normalise, style_signature

TARGET_RANKS = (10, 50, 100)
WINDOW = 0.2  # the window around a target rank, as a fraction of it
FULL_SNAPSHOT = 100  # the target ranks assume this many comments


def target_ranks(n_comments: int) -> tuple[int, ...]:
    """The three like-ranks distractors are drawn near, for a video with n_comments comments (see module doc)."""
    scale = min(1.0, n_comments / FULL_SNAPSHOT)
    out: list[int] = []
    for k, target in enumerate(TARGET_RANKS):
        t = max(k + 2, round(target * scale), (out[-1] + 1) if out else 0)
        out.append(min(t, n_comments))
    return tuple(out)


def popularity_options(record: Mapping[str, Any], rng: np.random.Generator,
                       exclude: set[str] = frozenset()) -> tuple[str, list[tuple[str, int]]] | None:
    """(answer text, [(distractor text, its rank)] * 3) or None when the video cannot carry the question."""
    comments = record["comments"]
    if len(comments) < 4:
        return None
    answer = comments[0]
    used = {normalise(answer["text"])} | set(exclude)
    answer_style, answer_len = style_signature(answer["text"]), len(answer["text"])
    picks: list[tuple[str, int]] = []
    for target in target_ranks(len(comments)):
        lo, hi = max(2, round(target * (1 - WINDOW))), min(len(comments), round(target * (1 + WINDOW)))

        def usable(rank: int) -> bool:
            c = comments[rank - 1]
            return c["like_count"] < answer["like_count"] and normalise(c["text"]) not in used and bool(c["text"])

        window = [r for r in range(lo, hi + 1) if usable(r)]
        if not window:
            window = sorted((r for r in range(2, len(comments) + 1) if usable(r)), key=lambda r: abs(r - target))[:1]
        if not window:
            return None
        tiebreak = rng.random(len(window))
        best = min(range(len(window)), key=lambda i: (
            style_signature(comments[window[i] - 1]["text"]) != answer_style,
            abs(len(comments[window[i] - 1]["text"]) - answer_len),
            tiebreak[i]))
        rank = window[best]
        picks.append((comments[rank - 1]["text"], rank))
        used.add(normalise(comments[rank - 1]["text"]))
    return answer["text"], picks
