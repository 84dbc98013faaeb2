"""Model-free and text-only baselines: a seeded random letter, and a text-only causal LM that never sees the video."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from ..harness.fingerprint import folder_weights_fingerprint
from .base import LETTERS, Adapter, LocalModelAnswers, McqAnswer, McqRequest, letter_token_ids


@dataclass
class RandomAdapter(Adapter):
    """Uniform letter per prompt from sha256(seed, prompt): the same on every run and process (no salted hash)."""

    kind = "random"
    name: str = "random"
    seed: int = 0

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed}

    def answer(self, requests: list[McqRequest]) -> list[McqAnswer]:
        answers = []
        for request in requests:
            digest = hashlib.sha256(f"{self.seed}\0{request.prompt}".encode()).digest()
            answers.append(McqAnswer(letter=LETTERS[digest[0] % len(LETTERS)]))
        return answers


@dataclass
class BlindLMAdapter(LocalModelAnswers, Adapter):
    """A text-only causal LM (e.g. a VLM's language backbone) answering from the prompt alone."""

    kind = "blind-lm"
    path: str = ""
    model: Any = None
    tokenizer: Any = None

    def __post_init__(self):
        if self.model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from .placement import load_kwargs

            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.model = AutoModelForCausalLM.from_pretrained(self.path, **load_kwargs(dtype="float32"))
        self.tokenizer.padding_side = "left"
        self.model.eval()
        self._letter_ids = letter_token_ids(self.tokenizer) if self.scoring == "likelihood" else None

    def identity(self) -> dict[str, Any]:
        weights = folder_weights_fingerprint(self.path) if self.path and os.path.isdir(self.path) else None
        return {"kind": self.kind, "name": self.name, "path": str(self.path), "weights": weights,
                "class": type(self.model).__name__, "scoring": self.scoring}

    def _batch(self, requests: list[McqRequest]):
        if self.tokenizer.chat_template:
            texts = [self.tokenizer.apply_chat_template([{"role": "user", "content": r.prompt}], tokenize=False,
                                                        add_generation_prompt=True) for r in requests]
        else:
            texts = [r.prompt for r in requests]
        return self.tokenizer(texts, return_tensors="pt", padding=True).to(self.model.device)

    def _tokenizer(self):
        return self.tokenizer
