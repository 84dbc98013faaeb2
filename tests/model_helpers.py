"""Shared fixtures-by-function for the MIMIC-Chat model tests: a locally trained tokenizer and tiny random models."""

import numpy as np
import torch

from mimic_train.tokenizer import build_tokenizer
from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
from modeling_mimic_chat.export import build_processor
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

CORPUS = [
    "a red ball rolls left across the kitchen",
    "the cat jumps up onto a blue sofa",
    "Select the most appropriate title based on the video. A B C D",
    "so cute!! watched it ten times lol",
] * 10


def tiny_tokenizer():
    return build_tokenizer(CORPUS, vocab_size=600)


def tiny_model(tokenizer, fusion_mode: str = "token_gate", seed: int = 0, **overrides):
    """A tiny random MIMIC-Chat (random weights: only shapes and wiring are meaningful)."""
    torch.manual_seed(seed)
    config = MimicChatConfig.from_preset("tiny", tokenizer=tokenizer, fusion_mode=fusion_mode, **overrides)
    return MimicChatForConditionalGeneration(config).eval()


def tiny_processor(model, tokenizer):
    return build_processor(model.config, tokenizer)


def random_clip(seed: int, frames: int = 40, height: int = 24, width: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def video_prompt(processor, question: str) -> str:
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def open_gates(model, value: float = 0.7) -> None:
    """Give the cross-attention gates non-zero values, as training would, so the video reaches the LM."""
    with torch.no_grad():
        for block in model.model.cross_attn_blocks.values():
            block.attn_gate.fill_(value)
            block.ffn_gate.fill_(value)
