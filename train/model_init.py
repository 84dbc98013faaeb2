"""The model a run starts from: a preset with random weights (tokenizer trained on the SFT texts) or a MIMIC-Chat folder.

The starting weights are saved once as `<run>/base` (a loadable MIMIC-Chat folder), so resuming and exporting rebuild
exactly the same base model even when it was randomly initialised.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast

from mimic_train.tokenizer import build_tokenizer
from modeling_mimic_chat.configuration_mimic_chat import PRESETS, MimicChatConfig
from modeling_mimic_chat.export import build_processor, save_for_hub
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

BASE_DIR = "base"


def load_mimic_chat(folder: str | Path, freeze_vision: bool | None = None, freeze_language_model: bool | None = None):
    """(model, processor) from a saved MIMIC-Chat folder, with the freeze flags optionally replaced."""
    model = MimicChatForConditionalGeneration.from_pretrained(folder)
    # The processor follows the model's config (frame counts, size, video tokens); only the tokenizer is read back.
    processor = build_processor(model.config, PreTrainedTokenizerFast.from_pretrained(folder))
    if freeze_vision is not None:
        model.config.freeze_vision = freeze_vision
    if freeze_language_model is not None:
        model.config.freeze_language_model = freeze_language_model
    model.apply_freeze_flags()
    return model, processor


def initial_model(model_cfg: dict, run_dir: Path, texts: Iterable[str], seed: int):
    """(model, processor) for a run: reloaded from `<run>/base` when it exists (resume), else built and saved there."""
    base = run_dir / BASE_DIR
    flags = {"freeze_vision": model_cfg["freeze_vision"], "freeze_language_model": model_cfg["freeze_language_model"]}
    if not base.exists():
        init = model_cfg["init"]
        if init in PRESETS:
            tokenizer = build_tokenizer(texts, vocab_size=model_cfg["vocab_size"])
            config = MimicChatConfig.from_preset(
                init, tokenizer=tokenizer, fusion_mode=model_cfg["fusion_mode"], **flags,
                **dict(model_cfg["overrides"]),
            )
            torch.manual_seed(seed)
            model = MimicChatForConditionalGeneration(config)
            processor = build_processor(config, tokenizer)
        elif Path(init).is_dir():
            model, processor = load_mimic_chat(init, **flags)
        else:
            raise ValueError(f"model.init {init!r} is neither a preset ({sorted(PRESETS)}) nor a MIMIC-Chat folder")
        save_for_hub(model, processor, base)
    return load_mimic_chat(base, **flags)
