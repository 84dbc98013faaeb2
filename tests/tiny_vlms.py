"""Tiny random video VLMs of six more transformers-native families (beside eval_helpers' Qwen2.5-VL and
LLaVA-OneVision), built from their config classes with a locally trained tokenizer and processors assembled from local
pieces: no hub access. Random weights, so only wiring, shapes and what reaches the model are meaningful."""

from __future__ import annotations

from pathlib import Path

import torch
from eval_helpers import _CHAT_TEMPLATE, _tokenizer, save_tiny_llava_onevision, save_tiny_qwen25_vl

QWEN_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>"]  # <|video_pad|> is a MIMIC special token
QWEN_TEMPLATE = _CHAT_TEMPLATE.replace("VIDEO_SLOT", "<|vision_start|><|video_pad|><|vision_end|>")
VIDEO_TOKEN_TEMPLATE = _CHAT_TEMPLATE.replace("VIDEO_SLOT", "<video>\n")


def _llm(tokenizer, model_type: str | None = None, **extra) -> dict:
    """A 2-layer text config of hidden size 32 that fits every family below."""
    config = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                  pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None, **extra)
    return {"model_type": model_type, **config} if model_type else config


def _qwen_ids(tokenizer) -> dict[str, int]:
    names = {"image_token_id": "<|image_pad|>", "video_token_id": "<|video_pad|>",
             "vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>"}
    return {key: tokenizer.convert_tokens_to_ids(token) for key, token in names.items()}


def _save(model_class, config, processor, folder: Path) -> Path:
    torch.manual_seed(0)
    model_class(config).eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny_qwen2_vl(folder: Path) -> Path:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor, Qwen2VLProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = _tokenizer(QWEN_TOKENS)
    config = Qwen2VLConfig(
        text_config=_llm(tokenizer, rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=32, mlp_ratio=2, num_heads=2, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2), **_qwen_ids(tokenizer))
    pixels = {"min_pixels": 28 * 28, "max_pixels": 56 * 56}
    processor = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(**pixels), tokenizer=tokenizer,
                                 video_processor=Qwen2VLVideoProcessor(**pixels, do_sample_frames=False,
                                                                       cap_pixels_per_frame=True),
                                 chat_template=QWEN_TEMPLATE)
    return _save(Qwen2VLForConditionalGeneration, config, processor, folder)


def save_tiny_qwen3_vl(folder: Path) -> Path:
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    tokenizer = _tokenizer(QWEN_TOKENS)
    config = Qwen3VLConfig(
        text_config=_llm(tokenizer, head_dim=8, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                                 "mrope_section": [2, 1, 1], "mrope_interleaved": True}),
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=32,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=16,
                           deepstack_visual_indexes=[0]), **_qwen_ids(tokenizer))
    size = {"shortest_edge": 32 * 32, "longest_edge": 64 * 64}
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=16), tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(size=size, patch_size=16, do_sample_frames=False,
                                              cap_pixels_per_frame=True),
        chat_template=QWEN_TEMPLATE)
    return _save(Qwen3VLForConditionalGeneration, config, processor, folder)


def _llava_parts(tokenizer, side: int) -> dict:
    """Text and CLIP vision configs and token ids shared by the LLaVA-style families."""
    return dict(text_config=_llm(tokenizer, model_type="llama"), vision_feature_layer=-1,
                vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=2, image_size=side, patch_size=14,
                                   projection_dim=32),
                image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                video_token_index=tokenizer.convert_tokens_to_ids("<video>"))


def save_tiny_llava_next_video(folder: Path, side: int = 56) -> Path:
    from transformers import (
        LlavaNextImageProcessor,
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor,
    )
    from transformers.models.llava_next_video.video_processing_llava_next_video import LlavaNextVideoVideoProcessor

    tokenizer = _tokenizer(["<image>", "<video>"])
    config = LlavaNextVideoConfig(**_llava_parts(tokenizer, side), image_grid_pinpoints=[[side, side]],
                                  image_seq_length=(side // 14) ** 2, video_seq_length=(side // 28) ** 2)
    size = {"shortest_edge": side}
    crop = {"height": side, "width": side}
    processor = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(size=size, crop_size=crop, do_sample_frames=False),
        image_processor=LlavaNextImageProcessor(size=size, crop_size=crop, image_grid_pinpoints=[[side, side]]),
        tokenizer=tokenizer, chat_template=VIDEO_TOKEN_TEMPLATE, patch_size=14, vision_feature_select_strategy="default")
    return _save(LlavaNextVideoForConditionalGeneration, config, processor, folder)


def save_tiny_video_llava(folder: Path, side: int = 28) -> Path:
    from transformers import (
        VideoLlavaConfig,
        VideoLlavaForConditionalGeneration,
        VideoLlavaImageProcessor,
        VideoLlavaProcessor,
    )
    from transformers.models.video_llava.video_processing_video_llava import VideoLlavaVideoProcessor

    tokenizer = _tokenizer(["<image>", "<video>"])
    config = VideoLlavaConfig(**_llava_parts(tokenizer, side))
    size = {"shortest_edge": side}
    crop = {"height": side, "width": side}
    processor = VideoLlavaProcessor(
        image_processor=VideoLlavaImageProcessor(size=size, crop_size=crop),
        video_processor=VideoLlavaVideoProcessor(size=size, crop_size=crop, do_sample_frames=False),
        tokenizer=tokenizer, chat_template=VIDEO_TOKEN_TEMPLATE, patch_size=14)
    return _save(VideoLlavaForConditionalGeneration, config, processor, folder)


def save_tiny_smolvlm(folder: Path, side: int = 64) -> Path:
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessor, SmolVLMProcessor
    from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

    tokenizer = _tokenizer(["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"])
    config = SmolVLMConfig(
        text_config=_llm(tokenizer, model_type="llama"),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=side, patch_size=16),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2)
    edge = {"longest_edge": side}
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(size=edge, max_image_size=edge, do_image_splitting=False),
        video_processor=SmolVLMVideoProcessor(size=edge, max_image_size=edge, do_sample_frames=False),
        tokenizer=tokenizer, image_seq_len=(side // 16) ** 2 // 4, chat_template=DEFAULT_CHAT_TEMPLATE)
    return _save(SmolVLMForConditionalGeneration, config, processor, folder)


def save_tiny_internvl(folder: Path, side: int = 56) -> Path:
    from transformers import GotOcr2ImageProcessor, InternVLConfig, InternVLForConditionalGeneration, InternVLProcessor
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    markers = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
               "video_token": "<video>"}
    tokenizer = _tokenizer(list(markers.values()))
    tokenizer = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer, pad_token=tokenizer.pad_token,
                                    eos_token=tokenizer.eos_token, padding_side="left", extra_special_tokens=markers)
    config = InternVLConfig(
        text_config=_llm(tokenizer, model_type="qwen2"),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=[side, side], patch_size=[14, 14]),
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=(side // 28) ** 2)
    size = {"height": side, "width": side}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=size, crop_to_patches=False),
        video_processor=InternVLVideoProcessor(size=size, do_sample_frames=False), tokenizer=tokenizer,
        chat_template=VIDEO_TOKEN_TEMPLATE, image_seq_length=(side // 28) ** 2)
    return _save(InternVLForConditionalGeneration, config, processor, folder)


BUILDERS = {"qwen2_vl": save_tiny_qwen2_vl, "qwen2_5_vl": save_tiny_qwen25_vl, "qwen3_vl": save_tiny_qwen3_vl,
            "llava_onevision": save_tiny_llava_onevision, "llava_next_video": save_tiny_llava_next_video,
            "video_llava": save_tiny_video_llava, "smolvlm": save_tiny_smolvlm, "internvl": save_tiny_internvl}
