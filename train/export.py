"""`export_model(run_dir, out_dir)`: the run's base model + trained weights (LoRA merged) saved as a MIMIC-Chat folder.

The folder is written through the remote-code class (`save_for_hub`), so `AutoModel.from_pretrained(out,
trust_remote_code=True)` loads it without this project.
"""

from __future__ import annotations

from pathlib import Path

from mimic_train.sft import BASE_DIR, FINAL_DIR, load_mimic_chat
from modeling_mimic_chat.export import save_for_hub


def _trained_weights(run_dir: Path, checkpoint: str | Path | None) -> Path:
    source = Path(checkpoint) if checkpoint else run_dir / FINAL_DIR
    if not source.is_dir():
        raise FileNotFoundError(f"{source} not found: train first (`mimic train sft`) or pass an existing checkpoint")
    return source


def export_model(run_dir: str | Path, out_dir: str | Path, checkpoint: str | Path | None = None) -> Path:
    """Merge `<run>/final` (or `checkpoint`) into `<run>/base` and save the result at `out_dir` (atomically)."""
    from peft import PeftModel

    run_dir = Path(run_dir)
    source = _trained_weights(run_dir, checkpoint)
    if (source / "adapter_config.json").exists():
        base, processor = load_mimic_chat(run_dir / BASE_DIR)
        model = PeftModel.from_pretrained(base, source).merge_and_unload()
    else:  # full fine-tuning: the checkpoint is a complete model
        model, processor = load_mimic_chat(source)
    # Exported for inference and further training: the saved config keeps the run's freeze flags.
    return save_for_hub(model.eval(), processor, out_dir)
