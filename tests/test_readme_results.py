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
    run, sft = demo / "train" / "run", demo / "train" / "sft"
    run.mkdir(parents=True)
    sft.mkdir(parents=True)
    (run / "train_summary.json").write_text(json.dumps({
        "global_step": global_step, "world_size": 1, "wall_s": 123.4, "peak_rss_mb": 1500.2,
        "first_logged_loss": 6.0, "last_logged_loss": 0.5}))
    (run / "train_config.json").write_text(json.dumps({"training": {"per_device_train_batch_size": 4}}))
    (sft / "sft_meta.json").write_text(json.dumps({"rows": 100, "warmup": [
        {"tasks": ["cam_cat"], "rows": 40, "slot_text_share": 1.0},
        {"tasks": ["cam_cat", "cam_topic"], "rows": 20, "slot_text_share": 0.5}]}))
    lines = [json.dumps({"step": step, "loss": step / 100}) for step in steps_logged]
    lines.append(json.dumps({"step": global_step, "train_runtime": 1.0}))  # the Trainer's closing line has no loss
    (run / "train_log.jsonl").write_text("\n".join(lines) + "\n")


def test_training_table_splits_steps_into_curriculum_blocks_with_the_loss_logged_last_in_each(tmp_path):
    _write_run(tmp_path, steps_logged=[5, 10, 12, 15, 20, 22], global_step=22)
    table = _module()._training(tmp_path).splitlines()
    assert table[2:5] == [
        "| 1 | cam_cat | 100 % | 1–10 | 0.100 |",
        "| 2 | cam_cat, cam_topic | 50 % | 11–15 | 0.150 |",
        "| 3 | every row (shuffled) | 0 % | 16–22 | 0.220 |",  # cut at global_step, not at its 10 planned steps
    ]
    assert table[-1] == ("22 steps of 4 rows in 123 s, peak RSS 1500 MB; loss 6.000 at the first logged step, "
                         "0.500 at the last.")


def test_steps_past_the_end_of_the_data_are_shown_as_a_second_read(tmp_path):
    _write_run(tmp_path, steps_logged=[10, 15, 25, 30], global_step=30)
    assert _module()._training(tmp_path).splitlines()[5] == "| 1 again | (the data from its start) | | 26–30 | 0.300 |"


def test_a_block_without_a_logged_step_shows_a_dash_and_one_never_reached_says_so(tmp_path):
    _write_run(tmp_path, steps_logged=[10], global_step=12)
    rows = _module()._training(tmp_path).splitlines()[2:5]
    assert rows[1] == "| 2 | cam_cat, cam_topic | 50 % | 11–12 | – |"
    assert rows[2] == "| 3 | every row (shuffled) | 0 % | not reached | – |"
