"""The adapter interface every model kind implements: MCQ answers (text or letter scores) and free generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy

LETTERS = "ABCD"


@dataclass
class McqRequest:
    prompt: str  # rendered by mimic_bench.prompts.render_mcq (instruction + lettered options + answer format)
    video: dict[str, torch.Tensor] | None  # condition frames {"spatial", "temporal"}, None when blind


@dataclass
class McqAnswer:
    response: str | None = None  # raw generated text (parsed later by mimic_bench.scoring)
    letter: str | None = None  # set directly in letter-likelihood mode
    letter_scores: list[float] | None = None


@dataclass
class GenerationSettings:
    max_new_tokens: int = 16
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Adapter:
    """Subclasses set `kind` and implement `answer` (and `generate` for comments).

    scoring: "generate" (decode text, parse the letter) or "likelihood" (argmax of the next-token logits over A-D;
    open models only, no parsing).
    """

    kind = "base"
    name: str = "model"
    batch_size: int = 1
    scoring: str = "generate"
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    def frame_policy(self) -> FramePolicy | None:
        """Frames this adapter wants decoded, or None if it never looks at video."""
        return None

    def identity(self) -> dict[str, Any]:
        """What makes this model this model (class, weights hash, revision); hashed into every sample key."""
        return {"kind": self.kind, "name": self.name}

    def answer(self, requests: list[McqRequest]) -> list[McqAnswer]:
        raise NotImplementedError

    def generate(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        raise NotImplementedError(f"{self.kind} adapters cannot write comments")


def letter_token_ids(tokenizer) -> list[int]:
    """Token id of each answer letter as the model would emit it first; fails loudly when a letter is not one token."""
    ids = []
    for letter in LETTERS:
        tokens = tokenizer.encode(letter, add_special_tokens=False)
        if len(tokens) != 1:
            raise ValueError(f"letter {letter!r} is {len(tokens)} tokens for this tokenizer; likelihood scoring needs 1")
        ids.append(tokens[0])
    return ids


def letters_from_logits(logits: torch.Tensor, letter_ids: list[int]) -> list[McqAnswer]:
    """Next-token logits [B, V] -> the arg-max letter and the four letter log-probabilities per row."""
    scores = torch.log_softmax(logits.float(), dim=-1)[:, letter_ids]
    return [McqAnswer(letter=LETTERS[int(row.argmax())], letter_scores=[round(float(v), 5) for v in row])
            for row in scores]


def generate_new_text(model, tokenizer, batch, settings: GenerationSettings) -> list[str]:
    """Generate from a left-padded batch (seeded by settings.seed) and decode only the new tokens, stripped."""
    torch.manual_seed(settings.seed)
    sampling = {"temperature": settings.temperature, "top_p": settings.top_p} if settings.do_sample else {}
    out = model.generate(**batch, max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample,
                         pad_token_id=tokenizer.pad_token_id, **sampling)
    new_tokens = out[:, batch["input_ids"].shape[1]:]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


class LocalModelAnswers:
    """`answer` and `generate` for adapters over a local transformers model: the likelihood-or-generate rule, once.

    Mix in before Adapter. The adapter provides `model`, `scoring`, `settings`, `_letter_ids` (letter_token_ids of
    its tokenizer when scoring is "likelihood"), `_batch(requests)` (left-padded model inputs holding `input_ids`) and
    `_tokenizer()` (the tokenizer that decodes the model's output).
    """

    def _tokenizer(self):
        raise NotImplementedError

    @torch.inference_mode()
    def answer(self, requests: list[McqRequest]) -> list[McqAnswer]:
        batch = self._batch(requests)
        if self.scoring == "likelihood":
            return letters_from_logits(self.model(**batch).logits[:, -1], self._letter_ids)
        return [McqAnswer(response=text) for text in generate_new_text(self.model, self._tokenizer(), batch,
                                                                       self.settings)]

    @torch.inference_mode()
    def generate(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        return generate_new_text(self.model, self._tokenizer(), self._batch(requests), settings)
