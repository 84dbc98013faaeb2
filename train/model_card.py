"""The MIMIC-Chat model card: its context read from files that runs wrote (config.json, the training run, the eval run),
rendered with cards/mimic_chat.md.

Parameter counts come from the released folder loaded in a fresh process (`mimic_release.validate_model_folder`).
"""

from __future__ import annotations

import json
from pathlib import Path

from mimic_cards import markdown_table, render_card

# Which config.json fields the architecture table shows: (label, path into the config dict).
ARCHITECTURE_FIELDS = [
    ("fusion mode", ("fusion_mode",)),
    ("spatial frames", ("spatial_num_frames",)),
    ("temporal frames", ("temporal_num_frames",)),
    ("vision hidden size", ("vision_config", "hidden_size")),
    ("vision layers", ("vision_config", "num_hidden_layers")),
    ("vision input side (px)", ("vision_config", "image_size")),
    ("language hidden size", ("text_config", "hidden_size")),
    ("language layers", ("text_config", "num_hidden_layers")),
    ("vocabulary", ("text_config", "vocab_size")),
]
TRAINING_FIELDS = [("lora", "enabled"), ("lora", "r"), ("lora", "alpha"), ("lora", "target_modules"),
                   ("training", "num_train_epochs"), ("training", "per_device_train_batch_size"),
                   ("training", "learning_rate"), ("training", "lr_scheduler_type"), ("training", "max_length"),
                   ("model", "init"), ("model", "freeze_vision"), ("model", "freeze_language_model"), (None, "seed")]
SUMMARY_FIELDS = ["global_step", "train_loss", "first_logged_loss", "last_logged_loss", "wall_s"]


def _dig(config: dict, path: tuple[str, ...]):
    for key in path:
        config = config.get(key) if isinstance(config, dict) else None
    return config


def architecture_table(model_folder: Path) -> str:
    config = json.loads((model_folder / "config.json").read_text())
    return markdown_table(["field", "value"], [[label, _dig(config, path)] for label, path in ARCHITECTURE_FIELDS
                                                if _dig(config, path) is not None])


def parameter_table(counts: dict) -> str:
    rows = [[name, f"{n:,}"] for name, n in counts["components"].items()]
    rows += [["**total**", f"{counts['total']:,}"], ["trainable at release", f"{counts['trainable']:,}"]]
    return markdown_table(["component", "parameters"], rows)


def training_table(train_dir: Path | None) -> str:
    if train_dir is None or not (train_dir / "train_config.json").is_file():
        return "No training run folder (`train_config.json`) was given when this card was rendered."
    config = json.loads((train_dir / "train_config.json").read_text())
    rows = [[f"{section}.{key}" if section else key, _dig(config, (section, key) if section else (key,))]
            for section, key in TRAINING_FIELDS]
    summary_file = train_dir / "train_summary.json"
    if summary_file.is_file():
        summary = json.loads(summary_file.read_text())
        rows += [[f"result: {key}", summary[key]] for key in SUMMARY_FIELDS if summary.get(key) is not None]
    return markdown_table(["setting", "value"], [[k, _cell(v)] for k, v in rows if v is not None])


def _cell(value) -> str:
    """Strings as code, floats with 4 significant digits (a learning rate must not print as 0.0)."""
    if isinstance(value, str):
        return "`" + value.replace("|", "\\|") + "`"  # a bare | would end the table cell
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def leaderboard_text(eval_dir: Path | None) -> str:
    boards = sorted(eval_dir.rglob("leaderboard.md")) if eval_dir is not None and eval_dir.is_dir() else []
    if not boards:
        return "No evaluation run (`leaderboard.md`) was given when this card was rendered."
    return f"From `{boards[0].relative_to(eval_dir.parent)}`:\n\n{boards[0].read_text().strip()}"


def render_model_card(model_folder: Path, counts: dict, *, org: str, source: str, train_dir: Path | None,
                      eval_dir: Path | None) -> str:
    """The README.md text of the MIMIC-Chat repo folder."""
    config = json.loads((model_folder / "config.json").read_text())
    context = {
        "config": config, "source": source, "model_repo": f"{org}/MIMIC-Chat", "bench_repo": f"{org}/MIMIC-Bench",
        "data_repo": f"{org}/MIMIC-Data", "space_repo": f"{org}/MIMIC-Chat-Space",
        "architecture_table": architecture_table(model_folder), "parameter_table": parameter_table(counts),
        "training_table": training_table(train_dir), "leaderboard": leaderboard_text(eval_dir),
    }
    return render_card("mimic_chat.md", context, kind="model")
