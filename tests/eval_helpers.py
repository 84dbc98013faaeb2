"""A tiny MIMIC-Bench folder built in tmp_path to the release contract (2 platforms, real H.264 mp4s), for eval tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from mimic_data.io import write_parquet
from mimic_data.render import video_relpath, write_mp4

TASKS = ("ciu_title", "ciu_desc", "cam_tag", "cam_topic", "cam_cat", "uiu_match", "uiu_pop")
AXES = {"ciu_title": "CIU", "ciu_desc": "CIU", "cam_tag": "CAM", "cam_topic": "CAM", "cam_cat": "CAM",
        "uiu_match": "UIU", "uiu_pop": "UIU"}
COLOURS = ["red", "blue", "green", "yellow"]


def video_ids(n_videos: int) -> list[str]:
    return [f"v{index:03d}x" for index in range(n_videos)]


def build_bench(root: Path, n_videos: int = 4, tasks=TASKS, frames: int = 24, seed: int = 0,
                with_videos: bool = True) -> Path:
    """Each video is a flat colour; the gold option of every question names that colour (learnable from pixels)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    videos = []
    for index, vid in enumerate(video_ids(n_videos)):
        platform = "youtube" if index % 2 == 0 else "tiktok"
        rel = video_relpath(platform, vid)
        if with_videos:
            clip = np.zeros((frames, 48, 64, 3), dtype=np.uint8)
            clip[..., index % 3] = 200
            clip[:, :, : 8 + index] = rng.integers(0, 255, 3, dtype=np.uint8)
            write_mp4(clip, root / rel, fps=8)
        videos.append({"video_id": vid, "platform": platform, "file_name": rel if with_videos else None,
                       "colour": COLOURS[index % 3]})
    for task in tasks:
        rows = []
        for index, video in enumerate(videos):
            answer_idx = (index + len(task)) % 4
            options = [f"{task} option {k} {COLOURS[(index + k + 1) % 4]}" for k in range(4)]
            options[answer_idx] = f"{task} gold {video['colour']}"
            rows.append({
                "question_id": f"{task}-{video['video_id']}", "video_id": video["video_id"],
                "platform": video["platform"], "task": task, "axis": AXES[task], "prompt_version": "v1",
                "question": f"Select the most appropriate {task.split('_')[1]} based on the video.",
                "options": options, "answer": "ABCD"[answer_idx], "answer_idx": answer_idx,
                "rotations": [[(i + r) % 4 for i in range(4)] for r in range(4)],
                "distractor_video_ids": [], "file_name": video["file_name"],
            })
        write_parquet(root / f"{task}.parquet", pa.Table.from_pylist(rows))
    comment_rows = [{"question_id": f"cg-{v['video_id']}", "video_id": v["video_id"], "platform": v["platform"],
                     "prompt": "Write a comment on this video as a viewer would.",
                     "references": ["so good", "wow"], "reference_likes": [10, 5], "file_name": v["file_name"]}
                    for v in videos]
    write_parquet(root / "comment_generation.parquet", pa.Table.from_pylist(comment_rows))
    write_parquet(root / "videos.parquet", pa.Table.from_pylist([
        {"video_id": v["video_id"], "platform": v["platform"], "url": f"https://synthetic.invalid/{v['video_id']}.mp4",
         "duration_s": frames / 8, "width": 64, "height": 48, "tier": "top2", "file_name": v["file_name"]}
        for v in videos]))
    return root


# Tiny random VLMs of two transformers-native families, built from their config classes with a locally trained
# tokenizer (no hub): random weights, so only wiring, shapes and determinism are meaningful.
_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'video' %}VIDEO_SLOT"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _tokenizer(extra_tokens: list[str]):
    from model_helpers import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    tokenizer.add_tokens(extra_tokens, special_tokens=True)
    return tokenizer


def save_tiny_qwen25_vl(folder: Path) -> Path:
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _tokenizer(["<|vision_start|>", "<|vision_end|>", "<|image_pad|>"])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
                                                           "<|video_pad|>")}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]},
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[0]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    pixels = {"min_pixels": 28 * 28, "max_pixels": 56 * 56}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels), tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(**pixels, do_sample_frames=False, cap_pixels_per_frame=True),
        chat_template=_CHAT_TEMPLATE.replace("VIDEO_SLOT", "<|vision_start|><|video_pad|><|vision_end|>"))
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_llava_onevision(folder: Path, side: int = 28) -> Path:
    import torch
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
    )
    from transformers.models.llava_onevision.video_processing_llava_onevision import LlavaOnevisionVideoProcessor

    tokenizer = _tokenizer(["<image>", "<video>"])
    config = LlavaOnevisionConfig(
        text_config=dict(model_type="qwen2", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id),
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64, patch_size=14,
                           image_size=side, num_hidden_layers=1, num_attention_heads=2, vision_use_head=False),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=[[side, side]], vision_feature_select_strategy="full")
    torch.manual_seed(0)
    model = LlavaOnevisionForConditionalGeneration(config).eval()
    size = {"height": side, "width": side}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=[[side, side]]),
        tokenizer=tokenizer, video_processor=LlavaOnevisionVideoProcessor(size=size, do_sample_frames=False),
        chat_template=_CHAT_TEMPLATE.replace("VIDEO_SLOT", "<video>\n"), num_image_tokens=(side // 14) ** 2,
        vision_feature_select_strategy="full")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_mimic_chat(folder: Path) -> Path:
    from model_helpers import open_gates, tiny_model, tiny_processor, tiny_tokenizer

    from modeling_mimic_chat.export import save_for_hub

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer, fusion_mode="xattn_gate")
    open_gates(model)  # so the frames reach the LM and conditions differ
    return save_for_hub(model, tiny_processor(model, tokenizer), folder)
