"""SFTTrainer with LoRA on a tiny random MIMIC-Chat: what trains, resume, and export -> AutoModel with the same logits.

Tiny random models and random frames: only the wiring and bookkeeping are meaningful, not the learned values.
"""

import json

import pytest
import torch
from datasets import Dataset
from train_helpers import RandomFrames, smoke_rows, tiny_recipe
from transformers import AutoModel

from mimic_train.collator import SFTCollator
from mimic_train.export import export_model
from mimic_train.sft import LOG_FILE, SUMMARY_FILE, build_trainer, latest_checkpoint, load_mimic_chat, run_sft


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_one_lora_step_changes_only_trainable_parameters(tmp_path):
    trainer = build_trainer(tiny_recipe(tmp_path, "--max_steps", "1"), Dataset.from_list(smoke_rows(4)),
                            RandomFrames())
    model = trainer.model
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    lora = {name for name in trainable if "lora_" in name}
    # LoRA sits on the language model's attention projections only; vision and LM base weights are frozen.
    assert lora and all(".language_model.layers." in n and ".self_attn." in n for n in lora)
    assert not any("vision_tower" in name for name in trainable)
    saved = {n for n in trainable if "modules_to_save" in n}
    assert {n.split(".modules_to_save")[0].rsplit(".", 1)[-1] for n in saved} == {
        "spatial_projector", "temporal_projector", "token_gate"}
    assert trainable == lora | saved
    before = _snapshot(model)
    trainer.train()
    after = _snapshot(model)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed <= trainable
    # lora_B starts at zero, so after one step every B matrix and the projectors have moved.
    assert {n for n in lora if "lora_B" in n} <= changed
    assert any("spatial_projector" in n for n in changed) and any("temporal_projector" in n for n in changed)


def test_resume_from_checkpoint_reaches_the_same_weights(tmp_path):
    rows = Dataset.from_list(smoke_rows(16))
    overrides = ("--max_steps", "4", "--save_steps", "2")
    straight = build_trainer(tiny_recipe(tmp_path / "straight", *overrides), rows, RandomFrames())
    straight.train()

    interrupted = tmp_path / "interrupted"
    first = build_trainer(tiny_recipe(interrupted, "--max_steps", "2", "--save_steps", "2"), rows, RandomFrames())
    first.train()
    assert latest_checkpoint(interrupted).name == "checkpoint-2"
    # The real entry point resumes from the latest checkpoint of the run folder on its own.
    recipe = tiny_recipe(interrupted, *overrides)
    recipe.script.sft_data = None
    resumed_trainer = build_trainer(recipe, rows, RandomFrames())
    resumed_trainer.train(resume_from_checkpoint=str(latest_checkpoint(interrupted)))
    assert resumed_trainer.state.global_step == 4
    expected, got = _snapshot(straight.model), _snapshot(resumed_trainer.model)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], msg=name)


@pytest.mark.parametrize("lora", [True, False])
def test_export_reloads_through_automodel_with_identical_logits(tmp_path, monkeypatch, lora):
    from mimic_train import sft

    rows = smoke_rows(8)
    monkeypatch.setattr(sft, "load_sft_dataset", lambda _: Dataset.from_list(rows))
    overrides = ["--max_steps", "2"] + ([] if lora else ["--freeze_language_model", "false"])
    recipe = tiny_recipe(tmp_path / "run", *overrides, use_peft=lora)
    final = run_sft(recipe, frame_loader=RandomFrames())
    assert (final / ("adapter_config.json" if lora else "model.safetensors")).exists()
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert summary["global_step"] == 2 and summary["lora"] is lora
    record = json.loads((tmp_path / "run" / "train_config.json").read_text())  # the layout model cards read
    assert record["lora"]["enabled"] is lora and record["model"]["init"] == "tiny" and record["seed"] == 0
    assert record["training"]["max_steps"] == 2 and record["training"]["learning_rate"] == 1e-2
    assert len((tmp_path / "run" / LOG_FILE).read_text().splitlines()) >= 2  # per-step losses + the final summary

    base, processor = load_mimic_chat(tmp_path / "run" / "base")
    with torch.no_grad():
        batch = SFTCollator(processor, RandomFrames(), max_length=256)(rows[:3])
        batch.pop("labels")
        untrained = base.eval()(**batch).logits
    if lora:
        from peft import PeftModel

        trained = PeftModel.from_pretrained(base, final)
    else:
        trained = load_mimic_chat(final)[0]
    with torch.no_grad():
        expected = trained.eval()(**batch).logits

    exported = export_model(tmp_path / "run", tmp_path / "exported")
    reloaded = AutoModel.from_pretrained(exported, trust_remote_code=True).eval()
    assert type(reloaded).__name__ == "MimicChatForConditionalGeneration"
    assert not any("lora" in name for name, _ in reloaded.named_parameters())
    with torch.no_grad():
        got = reloaded(**batch).logits
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # Training moved the weights away from the base: the export is not the untrained model.
    assert not torch.allclose(untrained, got, atol=1e-4)


def test_yaml_config_then_flags_and_the_demo_data_options(tmp_path):
    from mimic_train.sft import DEMO_CONFIG, SCRATCH_CONFIG, parse_recipe

    recipe = parse_recipe(["--config", str(SCRATCH_CONFIG), "--sft_data", "sft", "--output_dir", str(tmp_path),
                           "--learning_rate", "3e-4", "--warmup", "cam_cat:8:1"])
    assert recipe.training.learning_rate == 3e-4  # the flag wins over the file
    assert recipe.training.max_steps == 2400 and recipe.training.train_sampling_strategy == "sequential"
    assert recipe.script.max_train_minutes is None  # fixed steps and no time cap: results do not depend on load
    assert recipe.training.data_seed == recipe.training.seed == 0 and not recipe.training.remove_unused_columns
    assert not recipe.lora.use_peft and recipe.model.vocab_size == 2000
    # the paper's recipe on stand-ins: LoRA on the frozen (pretrained) LM, frozen tower
    demo = parse_recipe(["--config", str(DEMO_CONFIG), "--output_dir", str(tmp_path)])
    assert demo.lora.use_peft and demo.model.freeze_language_model and demo.model.freeze_vision
    assert demo.training.max_steps == 800 and demo.script.max_train_minutes is None
    assert demo.data.build_kwargs()["warmup"] == [(("cam_cat",), 3200, 0.0)]  # with their videos
    assert recipe.data.build_kwargs()["warmup"] == [(("cam_cat",), 8, 1.0)] and recipe.data.max_videos == 600
    with pytest.raises(ValueError, match="warm-up block"):
        parse_recipe(["--output_dir", str(tmp_path), "--warmup", "cam_cat"])
    (tmp_path / "typo.yaml").write_text("learning_rat: 0.1\n")
    with pytest.raises(ValueError, match="Unknown arguments from config file"):
        parse_recipe(["--config", str(tmp_path / "typo.yaml"), "--output_dir", str(tmp_path)])


def test_a_time_cap_that_cuts_the_schedule_fails_loudly_and_leaves_a_resumable_checkpoint(tmp_path, monkeypatch):
    import mimic_train.sft as sft

    rows = Dataset.from_list(smoke_rows(16))
    monkeypatch.setattr(sft, "load_sft_dataset", lambda _: rows)
    monkeypatch.setattr(sft, "VideoFrameLoader", lambda config: RandomFrames())
    recipe = tiny_recipe(tmp_path, "--max_steps", "4", "--max_train_minutes", "1e-9")
    with pytest.raises(sft.TimeCapReached, match=r"max_train_minutes=1e-09 at step 1 of 4; .* rerun to resume"):
        run_sft(recipe)
    assert latest_checkpoint(tmp_path).name == "checkpoint-1" and not (tmp_path / "final").exists()
    run_sft(tiny_recipe(tmp_path, "--max_steps", "4"))  # resumed without the cap: the schedule ends as planned
    assert json.loads((tmp_path / SUMMARY_FILE).read_text())["global_step"] == 4
