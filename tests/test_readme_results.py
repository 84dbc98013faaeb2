"""scripts/readme_results.py: the README's training table is derived from the files a run wrote."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "readme_results.py"


def _module():
    spec = importlib.util.spec_from_file_location("readme_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_run(demo: Path, steps_logged: list[int], global_step: int) -> None:
    train = demo / "train"
    (train / "run").mkdir(parents=True)
    (train / "run" / "train_summary.json").write_text(json.dumps({
        "global_step": global_step, "world_size": 1, "wall_s": 123.4, "peak_rss_mb": 1500.2, "lora": True,
        "parameters": {"trainable": 1000, "frozen": 90000, "total": 91000}}))
    (train / "run" / "train_config.json").write_text(json.dumps({"training": {"per_device_train_batch_size": 4}}))
    lines = [json.dumps({"step": step, "loss": step / 100}) for step in steps_logged]
    lines.append(json.dumps({"step": global_step, "train_runtime": 1.0}))  # the Trainer's closing line has no loss
    (train / "run" / "train_log.jsonl").write_text("\n".join(lines) + "\n")
    (train / "standins.json").write_text(json.dumps({
        "settings": {"lm_batch_size": 16, "tower_batch_size": 32},
        "language_model": {"steps": 30, "pointing_steps": 20, "reading_steps": 10, "losses": [[10, 0.7], [30, 0.2]],
                           "wall_s": 50.0, "parameters": 8000,
                           "heldout_letter_accuracy": {"10": {"cam_cat": 0.3}, "20": {"cam_cat": 0.85, "cam_tag": 0.25},
                                                       "30": {"cam_cat": 0.8, "cam_tag": 0.275}}},
        "vision_tower": {"steps": 40, "losses": [[20, 8.0], [40, 0.5]], "wall_s": 20.0, "parameters": 3000,
                         "train_accuracy": {"scene": 1.0, "shape": 0.9}}}))


def test_training_table_has_a_row_per_stage_copied_from_the_run_files(tmp_path):
    _write_run(tmp_path, [10, 20, 30], 30)
    table = _module()._training(tmp_path).splitlines()
    assert len(table) == 5  # header, rule, LM, tower, SFT
    lm, tower, sft = table[2:]
    assert "20 CAM-Cat + 10 every format × 16" in lm and "0.700 → 0.200" in lm and "| 50 |" in lm
    assert "CAM-Cat 85.0 % at the gate" in lm and "cam_tag 27.5" in lm and "8,000 / 0" in lm
    assert "40 × 32" in tower and "8.000 → 0.500" in tower and "scene 100.0, shape 90.0 %" in tower
    assert "LoRA SFT" in sft and "30 × 4" in sft and "0.100 → 0.300" in sft and "1,000 / 90,000" in sft
    assert "| 123 |" in sft and "1500 MB" in sft
