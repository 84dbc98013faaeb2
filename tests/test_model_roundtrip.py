"""save_for_hub -> Auto*.from_pretrained(trust_remote_code=True) in a fresh process that cannot import the project.

Uses tiny random models (weights are random; only exact reproduction matters here).
"""

import json
import subprocess
import sys

import pytest
import torch
from model_helpers import random_clip, tiny_model, tiny_processor, tiny_tokenizer, video_prompt

from mimic_release import BLOCK_PROJECT_IMPORTS
from modeling_mimic_chat.export import save_for_hub

# Runs in a child interpreter: project packages are blocked, so only the saved folder's own files can serve.
LOADER = BLOCK_PROJECT_IMPORTS + r"""
import json, sys
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor
folder, inputs_path, out_path = sys.argv[1:4]
request = torch.load(inputs_path)
processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
batch = processor(text=request["texts"], videos=request["videos"])
result = {"batch": dict(batch), "classes": [type(processor).__name__, type(processor.video_processor).__name__]}
for auto in (AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText):
    model = auto.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        result[auto.__name__] = model(**batch).logits
    result["classes"].append(type(model).__name__)
result["counts"] = model.count_parameters()
result["project_modules"] = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
torch.save(result, out_path)
"""


@pytest.mark.parametrize("fusion_mode", ["token_gate", "xattn_gate"])
def test_saved_folder_loads_in_fresh_process_with_identical_logits(tmp_path, fusion_mode):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, fusion_mode=fusion_mode)
    processor = tiny_processor(model, tokenizer)
    if fusion_mode == "xattn_gate":
        for block in model.model.cross_attn_blocks.values():  # non-zero gates so the video matters
            block.attn_gate.data.fill_(0.5)
    texts = [video_prompt(processor, "Which title fits? A or B"), video_prompt(processor, "Pick a tag")]
    videos = [random_clip(1), {"spatial": random_clip(2, frames=8), "temporal": random_clip(3, frames=16)}]
    batch = processor(text=texts, videos=videos)
    with torch.no_grad():
        expected = model(**batch).logits

    folder = save_for_hub(model, processor, tmp_path / "mimic-chat-tiny")
    names = {path.name for path in folder.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "processor_config.json",
        "video_preprocessor_config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "configuration_mimic_chat.py",
        "modeling_mimic_chat.py",
        "processing_mimic_chat.py",
        "video_processing_mimic_chat.py",
    } <= names
    assert not any(name.endswith((".bin", ".pt")) for name in names)  # safetensors only
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    assert {"AutoConfig", "AutoModel", "AutoModelForCausalLM", "AutoModelForImageTextToText"} <= set(auto_map)
    video_map = json.loads((folder / "video_preprocessor_config.json").read_text())["auto_map"]
    assert video_map["AutoVideoProcessor"] == "video_processing_mimic_chat.MimicChatVideoProcessor"

    # The child gets the same frames as torch tensors (weights-only torch.load refuses numpy arrays).
    as_torch = [
        {k: torch.from_numpy(v) for k, v in video.items()} if isinstance(video, dict) else torch.from_numpy(video)
        for video in videos
    ]
    torch.save({"texts": texts, "videos": as_torch}, tmp_path / "request.pt")
    completed = subprocess.run(
        [sys.executable, "-I", "-c", LOADER, str(folder), str(tmp_path / "request.pt"), str(tmp_path / "out.pt")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = torch.load(tmp_path / "out.pt")
    assert result["project_modules"] == []
    assert (
        result["classes"]
        == ["MimicChatProcessor", "MimicChatVideoProcessor"] + ["MimicChatForConditionalGeneration"] * 3
    )
    for key in ("input_ids", "attention_mask", "pixel_values_spatial", "pixel_values_videos"):
        assert torch.equal(result["batch"][key], batch[key]), key
    for auto in ("AutoModel", "AutoModelForCausalLM", "AutoModelForImageTextToText"):
        assert torch.equal(result[auto], expected), auto
    assert result["counts"] == model.count_parameters()


def test_save_for_hub_rejects_a_processor_built_for_another_config(tmp_path):
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, fusion_mode="xattn_gate")
    processor = tiny_processor(tiny_model(tokenizer), tokenizer)
    with pytest.raises(ValueError, match="num_video_tokens|expands videos to 20"):
        save_for_hub(model, processor, tmp_path / "out")
    assert not (tmp_path / "out").exists()
