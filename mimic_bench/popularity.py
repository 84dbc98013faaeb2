"""UIU-Pop's rule: which four comments of one video are shown, and which of them is the answer.

Answer: the rank-1 comment (most liked in the snapshot). Distractors: one comment from each of three like-rank windows
around the target ranks 10, 50 and 100 — the windows are [round(0.8 t), round(1.2 t)], i.e. ranks 8-12, 40-60 and
80-100. When a video has fewer than 100 comments in its snapshot the targets shrink in proportion,
t_k = round(T_k * n / 100), raised so they are at least 2, 3, 4 and strictly increasing (n = 11 gives 2, 6, 11), and
never beyond n. Inside a window the comment is drawn at random (the question's seeded generator) among those of the
answer's FORM CLASS — its formatting signature plus its cluster in a k-means over hashed word counts of the bench's
comments (`comment_form_classes`) — falling back to the same cluster, then to the same formatting and nearest length.
Without this, the kind of remark (a specific observation vs "first!") would point at the most-liked comment without
the video; drawing at random inside a class, rather than taking the comment closest to the answer, keeps the answer
from being the most "central" option. A candidate must have strictly fewer likes than the answer (a tie would
make two answers right), a text different from the answer's and the other picks (after normalisation), and must not
be `exclude`d (the video's UIU-Match answer). A window with no valid candidate falls back to the valid comment
nearest its target rank. A video with fewer than four usable comments gets no UIU-Pop question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


N_FORM_CLUSTERS = 12
TRIPLE_DRAWS = 24  # distractor triples tried per question when balancing the answer's centrality
CLUSTER_SCAN_DEPTH = 120  # comments per video used to fit the clusters (covers every window)


def comment_form_classes(records: Sequence[Mapping[str, Any]], seed: int = 0) -> Callable[[str], tuple]:
    """text -> (style signature, cluster id): a discrete description of what kind of comment a text is."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = sorted({c["text"] for r in records for c in r["comments"][:CLUSTER_SCAN_DEPTH]})
    vectorizer = HashingVectorizer(n_features=2**12, alternate_sign=False, norm="l2")
    if len(texts) < N_FORM_CLUSTERS:
        return lambda text: (style_signature(text), 0)
    kmeans = MiniBatchKMeans(n_clusters=N_FORM_CLUSTERS, random_state=seed, n_init=3, batch_size=4096)
    labels = kmeans.fit_predict(vectorizer.transform(texts))
    cluster = dict(zip(texts, labels.tolist(), strict=True))

    def form(text: str) -> tuple:
        label = cluster[text] if text in cluster else int(kmeans.predict(vectorizer.transform([text]))[0])
        return style_signature(text), label

    return form


def _centrality_rank(answer: str, distractors: list[str]) -> int:
    """0 when the answer shares the most words with the other options, 3 when it shares the fewest."""
    bags = [set(normalise(t).split()) for t in [answer, *distractors]]
    shared = [sum(len(b & o) / max(1, len(b | o)) for j, o in enumerate(bags) if j != i) for i, b in enumerate(bags)]
    return sum(x > shared[0] for x in shared[1:])


def popularity_options(record: Mapping[str, Any], rng: np.random.Generator, form: Callable[[str], tuple],
                       exclude: set[str] = frozenset(), centrality_target: int = 0
                       ) -> tuple[str, list[tuple[str, int]]] | None:
    """(answer text, [(distractor text, its rank)] * 3) or None when the video cannot carry the question.

    `form` is comment_form_classes(...) of the bench; `exclude` holds normalised texts that may not be shown."""
    comments = record["comments"]
    if len(comments) < 4:
        return None
    answer = comments[0]
    used = {normalise(answer["text"])} | set(exclude)
    answer_form, answer_len = form(answer["text"]), len(answer["text"])
    best_likes: dict[str, int] = {}  # a text posted twice counts with its best like count
    for c in comments[1:]:
        key = normalise(c["text"])
        best_likes[key] = max(best_likes.get(key, 0), c["like_count"])
    pools: list[list[int]] = []
    taken: set[str] = set(used)
    for target in target_ranks(len(comments)):
        lo, hi = max(2, round(target * (1 - WINDOW))), min(len(comments), round(target * (1 + WINDOW)))

        def usable(rank: int) -> bool:
            c = comments[rank - 1]
            key = normalise(c["text"])
            return best_likes[key] < answer["like_count"] and key not in taken and bool(c["text"])

        window = [r for r in range(lo, hi + 1) if usable(r)]
        if not window:
            window = sorted((r for r in range(2, len(comments) + 1) if usable(r)), key=lambda r: abs(r - target))[:1]
        if not window:
            return None
        forms = [form(comments[r - 1]["text"]) for r in window]
        same_form = [r for r, f in zip(window, forms, strict=True) if f == answer_form]
        same_cluster = [r for r, f in zip(window, forms, strict=True) if f[1] == answer_form[1]]
        if not (same_form or same_cluster):
            tiebreak = rng.random(len(window))
            same_form = [window[min(range(len(window)), key=lambda i: (
                forms[i][0] != answer_form[0], abs(len(comments[window[i] - 1]["text"]) - answer_len), tiebreak[i]))]]
        pools.append(same_form or same_cluster)
        if len(pools[-1]) == 1:
            taken.add(normalise(comments[pools[-1][0] - 1]["text"]))
    best = None
    for _ in range(TRIPLE_DRAWS):
        ranks = [pool[int(rng.integers(0, len(pool)))] for pool in pools]
        texts = [comments[r - 1]["text"] for r in ranks]
        if len({normalise(t) for t in texts} | {normalise(answer["text"])}) < 4:
            continue
        miss = abs(_centrality_rank(answer["text"], texts) - centrality_target)
        if best is None or miss < best[0]:
            best = (miss, ranks)
        if miss == 0:
            break
    if best is None:
        return None
    picks = [(comments[r - 1]["text"], r) for r in best[1]]
    return answer["text"], picks
