"""The training run's configuration: a YAML file, then `--set section.key=value` overrides from the command line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

# Defaults follow the paper's recipe (LoRA on the LM's attention, frozen vision, trainable projectors and gates).
DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "sft_data": None,  # folder written by `mimic train data`
    "max_train_minutes": None,  # optional wall-clock cap (the demo's budget); training stops and saves when reached
    "out_dir": None,  # run folder: base/ (initial model), checkpoint-*/, final/, train_log.jsonl
    "model": {
        "init": "tiny",  # a preset name (random init, tokenizer trained on the SFT texts) or a MIMIC-Chat folder
        "vocab_size": 4000,
        "fusion_mode": "token_gate",
        "freeze_vision": True,
        "freeze_language_model": True,
        "overrides": {},  # extra MimicChatConfig.from_preset overrides (text_config / vision_config dicts merge)
    },
    "lora": {
        "enabled": True,
        "r": 16,
        "alpha": 32,
        "dropout": 0.05,
        # Regex: attention projections of the language model only (not the vision tower, not cross-attention blocks).
        "target_modules": r".*\.language_model\.layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)",
        "modules_to_save": ["spatial_projector", "temporal_projector", "token_gate"],
    },
    "training": {  # passed to trl.SFTConfig
        "num_train_epochs": 3,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-4,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.03,  # a float < 1 is a ratio of the total steps
        "weight_decay": 0.0,
        "logging_steps": 10,
        "save_steps": 200,
        "save_total_limit": 2,
        "max_length": 1024,
        "bf16": False,
        "activation_checkpointing": False,  # transformers 5 name of gradient checkpointing
        "dataloader_num_workers": 0,
        "report_to": "none",
    },
}


def _merge(base: dict, update: dict, where: str = "") -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            raise KeyError(f"unknown config key {where + key!r}; known: {sorted(base)}")
        if isinstance(base[key], dict) and key not in ("overrides",) and where + key != "training":
            if not isinstance(value, dict):
                raise TypeError(f"config key {where + key!r} must be a mapping, got {value!r}")
            merged[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            merged[key] = copy.deepcopy(value)
    if where == "" and "training" in update:
        merged["training"] = {**base["training"], **update["training"]}  # any SFTConfig field is allowed here
    return merged


def _number_or_yaml(raw: str) -> Any:
    # YAML 1.1 reads "1e-3" (no dot) as a string; a learning rate on the command line must still be a number.
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return yaml.safe_load(raw)


def parse_override(text: str) -> dict:
    """`training.learning_rate=3e-4` -> {"training": {"learning_rate": 0.0003}} (value parsed as YAML)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value")
    dotted, raw = text.split("=", 1)
    value: Any = _number_or_yaml(raw)
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return value


def load_config(path: str | Path | None = None, overrides: list[str] = (), **top_level) -> dict:
    """DEFAULTS <- YAML file <- `--set` overrides <- keyword arguments (None values are ignored)."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise TypeError(f"{path}: the training config must be a YAML mapping")
        config = _merge(config, loaded)
    for text in overrides:
        config = _merge(config, parse_override(text))
    config = _merge(config, {key: value for key, value in top_level.items() if value is not None})
    config["training"] = {key: _number_or_yaml(value) if isinstance(value, str) else value
                          for key, value in config["training"].items()}
    for key in ("sft_data", "out_dir"):
        if not config[key]:
            raise ValueError(f"the training config needs {key!r} (YAML or command line)")
    return config
