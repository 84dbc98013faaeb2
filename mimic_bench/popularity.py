"""UIU-Pop's rule: which four comments of one video are shown, and which of them is the answer.

Answer: the rank-1 comment (most liked in the snapshot). Distractors: one comment from each of three like-rank windows
around the target ranks 10, 50 and 100 — the windows are [round(0.5 t), round(1.5 t)], i.e. ranks 5-15, 25-75 and
50-100, wide enough that most windows hold a dozen candidates. When a video has fewer than 100 comments in its snapshot
the targets shrink in proportion, t_k = round(T_k * n / 100), raised so they are at least 2, 3, 4 and strictly
increasing (n = 11 gives 2, 6, 11), and never beyond n. A candidate must have strictly fewer likes than the answer (a
tie would make two answers right), a text different from the answer's and the other picks (after normalisation), and
must not be `exclude`d (the video's UIU-Match answer); inside a window, candidates of the answer's formatting signature
(caps, emoji, '!', '#') come first. A window with no valid candidate falls back to the valid comment nearest its
target rank. A video with fewer than four usable comments gets no UIU-Pop question.

The triple is chosen among all combinations of the windows' candidates (up to MAX_PER_WINDOW each, drawn at random)
by the video's THEME WORDS: the words found in between THEME_SHARE[0] and THEME_SHARE[1] of its comments — what tells
one comment of this video from another (which moment, which detail), leaving out the topic every comment shares and
one-off phrasing. Because the rule never looks at phrasing, it does not change how often a kind of wording is shown
as a distractor compared with how often it is the answer (selecting on overall similarity did, and a text classifier
learned the difference).
1. distinct: the triples whose four options overlap least in theme words, summed over the six pairs (two options
   making the same point would leave the answer as the odd one out, or make two answers right);
2. centrality in both directions: among those, the answer's centrality rank over theme words (0 when it shares the
   most with the other options, 3 the fewest; ties count half) is steered to a target the builder balances over 0-3
   across the task's questions, so neither "pick the most typical option" nor "pick the odd one out" beats chance;
3. the seeded generator breaks the remaining ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .options import normalise, style_signature

TARGET_RANKS = (10, 50, 100)
WINDOW = 0.5  # the window around a target rank, as a fraction of it
FULL_SNAPSHOT = 100  # the target ranks assume this many comments
MAX_PER_WINDOW = 12  # candidates per window kept for the triple search (12**3 triples at most)
THEME_SHARE = (0.2, 0.8)  # a theme word is in at least 20 % and at most 80 % of the video's comments


def target_ranks(n_comments: int) -> tuple[int, ...]:
    """The three like-ranks distractors are drawn near, for a video with n_comments comments (see module doc)."""
    scale = min(1.0, n_comments / FULL_SNAPSHOT)
    out: list[int] = []
    for k, target in enumerate(TARGET_RANKS):
        t = max(k + 2, round(target * scale), (out[-1] + 1) if out else 0)
        out.append(min(t, n_comments))
    return tuple(out)


def theme_words(texts: list[str]) -> set[str]:
    """The words found in between THEME_SHARE[0] and THEME_SHARE[1] of the given comment texts."""
    counts: dict[str, int] = {}
    for text in texts:
        for word in set(normalise(text).split()):
            counts[word] = counts.get(word, 0) + 1
    lo, hi = THEME_SHARE[0] * len(texts), THEME_SHARE[1] * len(texts)
    return {word for word, count in counts.items() if lo <= count <= hi}


def popularity_options(record: Mapping[str, Any], rng: np.random.Generator, exclude: set[str] = frozenset(),
                       centrality_target: int = 0) -> tuple[str, list[tuple[str, int]]] | None:
    """(answer text, [(distractor text, its rank)] * 3) or None when the video cannot carry the question.

    `exclude` holds normalised texts that may not be shown; `centrality_target` (0-3) is the answer's wanted
    centrality rank over theme words (module doc)."""
    comments = record["comments"]
    if len(comments) < 4:
        return None
    answer = comments[0]
    answer_key, answer_style = normalise(answer["text"]), style_signature(answer["text"])
    best_likes: dict[str, int] = {}  # a text posted twice counts with its best like count
    for c in comments[1:]:
        key = normalise(c["text"])
        best_likes[key] = max(best_likes.get(key, 0), c["like_count"])

    def usable(rank: int) -> bool:
        c = comments[rank - 1]
        key = normalise(c["text"])
        return bool(c["text"]) and key != answer_key and key not in exclude and best_likes[key] < answer["like_count"]

    windows = []
    for target in target_ranks(len(comments)):
        lo, hi = max(2, round(target * (1 - WINDOW))), min(len(comments), round(target * (1 + WINDOW)))
        window = [r for r in range(lo, hi + 1) if usable(r)]
        if not window:
            window = sorted((r for r in range(2, len(comments) + 1) if usable(r)), key=lambda r: abs(r - target))[:1]
        if not window:
            return None
        windows.append(window)
    themes = theme_words([c["text"] for c in comments])
    picked = _best_triple(comments, windows, themes, answer_style, rng, centrality_target)
    return None if picked is None else (answer["text"], [(comments[r - 1]["text"], r) for r in picked])


def _best_triple(comments: list[Mapping[str, Any]], windows: list[list[int]], themes: set[str],
                 answer_style: tuple, rng: np.random.Generator, centrality_target: int
                 ) -> list[int] | None:
    """The three distractor ranks, one from each window, by the module's order of rules; None when no triple of
    distinct texts exists."""
    def text(rank: int) -> str:
        return comments[rank - 1]["text"]

    kept = []
    for window in windows:
        window = [r for r in window if style_signature(text(r)) == answer_style] or window
        seen: dict[str, int] = {}
        for r in window:  # one rank per distinct text: the best-liked
            seen.setdefault(normalise(text(r)), r)
        window = sorted(seen.values())
        if len(window) > MAX_PER_WINDOW:
            window = sorted(int(r) for r in rng.choice(window, size=MAX_PER_WINDOW, replace=False))
        kept.append(window)
    ranks = sorted({r for w in kept for r in w})
    texts = [text(1), *(text(r) for r in ranks)]
    keys = [normalise(t) for t in texts]
    bags = [frozenset(k.split()) & themes for k in keys]
    overlap = np.array([[len(a & b) / max(1, len(a | b)) for b in bags] for a in bags])
    position = {r: i + 1 for i, r in enumerate(ranks)}
    triples = np.array([(position[a], position[b], position[c]) for a in kept[0] for b in kept[1] for c in kept[2]
                        if len({keys[0], keys[position[a]], keys[position[b]], keys[position[c]]}) == 4])
    if not len(triples):
        return None
    options = np.concatenate([np.zeros((len(triples), 1), dtype=np.int64), triples], axis=1)
    pairs = overlap[options[:, :, None], options[:, None, :]]  # [triple, 4, 4]
    shared = pairs.sum(axis=2) - np.einsum("tii->ti", pairs)
    spread = np.round(shared.sum(axis=1), 6)  # twice the summed pairwise overlap; rounded so float noise ties
    rank = (shared[:, 1:] > shared[:, :1]).sum(axis=1) + 0.5 * (shared[:, 1:] == shared[:, :1]).sum(axis=1)
    best = np.lexsort((rng.random(len(triples)), np.abs(rank - centrality_target), spread))[0]
    return [ranks[i - 1] for i in triples[best]]
