"""The demo's pretrained stand-ins: the caption a language model reads in the video's place, the stand-in folders as
ordinary transformers checkpoints, their content-hash cache, and composing them into MIMIC-Chat.

The stand-ins here train for a few steps on a small synthetic world: tiny, nearly random models, so only the wiring,
the files and the cache are asserted, never what they learnt (the demo's standins.json reports that).
"""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

from mimic_data.render import video_relpath
from mimic_data.synth import RECORDS_FILE, WORLD_FILE, render, synthesize_with_splits
from mimic_data.world import caption
from mimic_train.sft import TINY_COMPOSITION, init_from_parts, load_mimic_chat
from mimic_train.sft_data import training_video_ids
from mimic_train.standins import SUMMARY_FILE, TOWER_FACTS, StandinSettings, demo_standins

# gate 0: the pointing phase ends at its first probe (step 2), then one reading step
TINY = StandinSettings(lm_pointing_gate=0.0, lm_probe_every=2, lm_reading_steps=1, lm_batch_size=4,
                       lm_probe_videos=20, tower_steps=3, tower_batch_size=4, vocab_size=600)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return synthesize_with_splits(tmp_path_factory.mktemp("world"), n=160, seed=3, bench_size=40)


@pytest.fixture(scope="module")
def videos(world, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    ids = training_video_ids(world, max_videos=6)
    platforms = dict(zip(*pq.read_table(world / WORLD_FILE, columns=["video_id", "platform"]).to_pydict().values(),
                         strict=True))
    render(world, ids, root, progress=False)
    return {video: root / video_relpath(platforms[video], video) for video in ids}


def test_caption_names_every_tag_and_topic_the_metadata_derives_from_the_content(world):
    content = {row["video_id"]: row for row in pq.read_table(world / WORLD_FILE).to_pylist()}
    for record in pq.read_table(world / RECORDS_FILE).to_pylist():
        line = caption(content[record["video_id"]])
        # topics and tags are what the video shows (scene, object, motions) in the metadata's own spelling
        assert all(f"#{topic}" in line for topic in record["topics"] if topic != "fyp"), (record["topics"], line)
        assert all(tag in line for tag in record["tags"]), (record["tags"], line)
        # the comment that tops the snapshot names the glowing motion at its time: the caption's last clause
        top = record["comments"][0]["text"] if record["comments"] else None
        if top is not None:
            assert line.rsplit(" | ", 1)[1] in top, (line, top)


def test_standins_are_transformers_folders_cached_by_content_and_compose_into_mimic_chat(world, videos, tmp_path):
    cache = tmp_path / "cache"
    lm, tower, summary = demo_standins(world, videos, cache, TINY)
    assert not summary["cached"] and summary["language_model"]["steps"] == 3 and summary["vision_tower"]["steps"] == 3
    assert set(summary["vision_tower"]["train_accuracy"]) == set(TOWER_FACTS)
    assert summary["language_model"]["pointing_steps"] == 2
    # the learning curve: held-out text questions of every MCQ task, at the gate and the last step
    curve = summary["language_model"]["heldout_letter_accuracy"]
    assert set(curve) == {"2", "3"} and all(0 <= v <= 1 for v in curve["3"].values()) and len(curve["3"]) >= 5
    language_model = AutoModelForCausalLM.from_pretrained(lm)
    tokenizer = AutoTokenizer.from_pretrained(lm)
    assert type(language_model).__name__ == "LlamaForCausalLM"
    assert language_model.config.vocab_size == len(tokenizer)
    assert "<|video_pad|>" in tokenizer.get_vocab() and "[VID]" in tokenizer.get_vocab()
    assert type(AutoModel.from_pretrained(tower)).__name__ == "TimesformerModel"
    assert set(json.loads((tower / "preprocessor_config.json").read_text())) == {"image_mean", "image_std"}

    # the same inputs: the cached folders, nothing trained again
    again = demo_standins(world, videos, cache, TINY)
    assert again[:2] == (lm, tower) and again[2]["cached"] and again[2]["key"] == summary["key"]
    # other settings: another folder
    other = demo_standins(world, dict(list(videos.items())[:4]), cache, TINY)
    assert other[0] != lm and not other[2]["cached"]
    assert sorted(p.name for p in cache.iterdir() if (p / SUMMARY_FILE).exists()) == sorted(
        {lm.parent.name, other[0].parent.name})
    assert not [p for p in cache.iterdir() if ".partial-" in p.name]

    start = init_from_parts(str(lm), str(tower), tmp_path / "start", **TINY_COMPOSITION)
    model, processor = load_mimic_chat(start)
    text = processor.tokenizer("the red ball rises", return_tensors="pt")
    with torch.no_grad():  # the composed model reads text exactly as the stand-in LM does
        assert torch.allclose(model(**text).logits, language_model(**text).logits, atol=1e-5)
    tower_state = AutoModel.from_pretrained(tower).state_dict()
    assert all(torch.equal(value, model.model.vision_tower.state_dict()[key]) for key, value in tower_state.items())


def test_demo_model_is_lora_sft_of_the_composed_standins_and_exports_for_automodel(world, tmp_path):
    """`train_demo_model(standins=...)` end to end with a 2-step recipe and 3-step stand-ins (tiny, nearly random)."""
    from mimic_demo import build_demo_bench
    from mimic_train.sft import DEMO_CONFIG, STANDINS_FILE, START_DIR, SUMMARY_FILE, train_demo_model

    bench = build_demo_bench(world, tmp_path / "bench", train_videos=40)["release"]
    config = tmp_path / "recipe.yaml"
    config.write_text(DEMO_CONFIG.read_text().replace("max_steps: 800", "max_steps: 2").replace('\n  - "cam_cat:3200:0"', "").replace("warmup:  #", "warmup: []  #")
                      .replace("max_videos: 600", "max_videos: 6").replace("rotations: 4", "rotations: 1"))
    model_dir = train_demo_model(world, bench, tmp_path / "train", config_path=config, standins=TINY,
                                 standin_cache=tmp_path / "cache")
    summary = json.loads((tmp_path / "train" / "run" / SUMMARY_FILE).read_text())
    assert summary["lora"] and summary["global_step"] == 2
    assert 0 < summary["parameters"]["trainable"] < summary["parameters"]["frozen"]  # LM and tower frozen
    standins = json.loads((tmp_path / "train" / STANDINS_FILE).read_text())
    assert standins["language_model"]["steps"] == 3
    start = json.loads((tmp_path / "train" / START_DIR / "config.json").read_text())
    assert start["text_config"]["model_type"] == "llama" and start["vision_config"]["model_type"] == "timesformer"
    model = AutoModel.from_pretrained(model_dir, trust_remote_code=True)
    assert type(model).__name__ == "MimicChatForConditionalGeneration"


def test_pointing_batches_mix_answer_words_and_captions_and_reading_batches_keep_one_format(world):
    import random

    from mimic_train.standins import _text_rows, pointing_batch, reading_batch

    content = {row["video_id"]: row for row in pq.read_table(world / WORLD_FILE).to_pylist()}
    rows = _text_rows(world, training_video_ids(world), 1, seed=0)
    assert all(row["slot_text"] == caption(content[row["video_id"]]) for row in rows)
    cam_cat = [row for row in rows if row["task"] == "cam_cat"]
    rng = random.Random(0)
    assert all(r["slot_text"] == r["answer_text"] for r in pointing_batch(cam_cat, 16, 1.0, rng))
    assert all(r["slot_text"] == caption(content[r["video_id"]]) for r in pointing_batch(cam_cat, 16, 0.0, rng))
    mixed = pointing_batch(cam_cat, 40, 0.5, rng)
    assert all(r["task"] == "cam_cat" for r in mixed) and 5 < sum(r["slot_text"] == r["answer_text"] for r in mixed) < 35
    by_task = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    batches = [reading_batch(by_task, 8, rng) for _ in range(40)]
    assert all(len({r["task"] for r in batch}) == 1 for batch in batches)
    assert len({batch[0]["task"] for batch in batches}) >= 5  # every format and the comments take turns


def test_a_stand_in_lm_that_never_points_fails_loudly_naming_its_accuracy(world, tmp_path):
    from mimic_train.standins import StandinNotPointing, _text_rows, pretrain_language_model

    rows = _text_rows(world, training_video_ids(world), 1, seed=0)
    never = StandinSettings(lm_pointing_gate=1.01, lm_pointing_max_steps=2, lm_probe_every=1, lm_batch_size=4,
                            vocab_size=600)
    with pytest.raises(StandinNotPointing, match=r"held-out CAM-Cat letter accuracy 0\.\d\d after 2 pointing steps"):
        pretrain_language_model(rows, [r for r in rows if r["task"] == "cam_cat"][:8], tmp_path / "lm", never)
    assert not (tmp_path / "lm").exists()  # nothing saved from a stand-in that does not point
