"""MIMIC-Chat processor, video processor, tokenizer and presets (tiny locally trained tokenizer; no downloads)."""


import numpy as np
import pytest
import torch
from model_helpers import CORPUS, random_clip, tiny_model, tiny_processor, tiny_tokenizer, video_prompt

from mimic_train.tokenizer import SPECIAL_TOKENS, build_tokenizer
from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
from modeling_mimic_chat.export import CHAT_TEMPLATE_PATH
from modeling_mimic_chat.frames_mimic_chat import segment_centres
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration, count_parameters
from modeling_mimic_chat.video_processing_mimic_chat import MimicChatVideoProcessor


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_full_clip_is_sampled_at_segment_centres_and_presampled_frames_pass_through():
    processor = MimicChatVideoProcessor(
        size={"height": 4, "width": 4},
        spatial_num_frames=8,
        temporal_num_frames=16,
        do_rescale=False,
        do_normalize=False,
    )
    clip = np.broadcast_to(np.arange(50, dtype=np.uint8)[:, None, None, None], (50, 4, 4, 3)).copy()  # frame i == i
    out = processor([clip])
    assert out["pixel_values_spatial"][0, :, 0, 0, 0].tolist() == segment_centres(50, 8)
    assert out["pixel_values_videos"][0, :, 0, 0, 0].tolist() == segment_centres(50, 16)
    presampled = {"spatial": torch.from_numpy(clip[:8]), "temporal": clip[10:26]}
    out = processor([presampled])
    assert out["pixel_values_spatial"][0, :, 0, 0, 0].tolist() == list(range(8))
    assert out["pixel_values_videos"][0, :, 0, 0, 0].tolist() == list(range(10, 26))


def test_frames_are_resized_and_normalised():
    processor = MimicChatVideoProcessor(size={"height": 32, "width": 32}, spatial_num_frames=8, temporal_num_frames=16)
    out = processor([np.full((20, 48, 64, 3), 255, dtype=np.uint8)])
    assert tuple(out["pixel_values_videos"].shape) == (1, 16, 3, 32, 32)
    expected = (1 - torch.tensor(processor.image_mean)) / torch.tensor(processor.image_std)
    torch.testing.assert_close(out["pixel_values_videos"][0, 0, :, 5, 5], expected)


def test_bad_videos_get_errors_naming_the_item():
    processor = MimicChatVideoProcessor(size={"height": 8, "width": 8}, spatial_num_frames=8, temporal_num_frames=16)
    good = random_clip(0, frames=20, height=8, width=8)
    with pytest.raises(ValueError, match="video 1: expected 16 temporal frames, got 15"):
        processor([good, {"spatial": good[:8], "temporal": good[:15]}])
    with pytest.raises(ValueError, match="video 0: clip frames must be uint8"):
        processor([good.astype(np.float32)])
    with pytest.raises(ValueError, match="video 0: pre-sampled frames need keys"):
        processor([{"spatial": good[:8]}])


def test_processor_expands_placeholders_and_left_pads(tokenizer):
    model = tiny_model(tokenizer)
    processor = tiny_processor(model, tokenizer)
    texts = [video_prompt(processor, "Which tag fits? A B C D"), video_prompt(processor, "Hi")]
    batch = processor(text=texts, videos=[random_clip(1), random_clip(2)])
    n = model.config.num_video_tokens
    assert (batch["input_ids"] == model.config.video_token_id).sum(dim=1).tolist() == [n, n]
    assert batch["attention_mask"][1, 0] == 0 and batch["attention_mask"][:, -1].tolist() == [1, 1]
    assert tuple(batch["pixel_values_spatial"].shape) == (2, 8, 3, 32, 32)
    assert tuple(batch["pixel_values_videos"].shape) == (2, 16, 3, 32, 32)
    text_only = processor(text="<|im_start|>user\nplain prompt<|im_end|>\n")
    assert set(text_only) == {"input_ids", "attention_mask"}
    with pytest.raises(ValueError, match="text 1 holds 0"):
        processor(text=[texts[0], "no placeholder"], videos=[random_clip(1), random_clip(2)])
    with pytest.raises(ValueError, match=r"text 0 holds 1 .*\(no videos were passed\)"):
        processor(text=texts[0])


def test_chat_template_marks_only_the_assistant_turn(tokenizer):
    messages = [
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Pick one: A B C D"}]},
        {"role": "assistant", "content": "B"},
    ]
    encoded = tokenizer.apply_chat_template(
        messages, chat_template=CHAT_TEMPLATE_PATH.read_text(), return_dict=True, return_assistant_tokens_mask=True
    )
    marked = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(marked) == "B<|im_end|>"
    text = tokenizer.decode(encoded["input_ids"])
    assert text == "<|im_start|>user\n<|video_pad|>Pick one: A B C D<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n"


def test_tokenizer_is_deterministic_with_fixed_special_ids():
    first, second = build_tokenizer(CORPUS, vocab_size=500), build_tokenizer(CORPUS, vocab_size=500)
    assert first.get_vocab() == second.get_vocab()
    assert first.convert_tokens_to_ids(SPECIAL_TOKENS) == list(range(len(SPECIAL_TOKENS)))
    assert first.eos_token == "<|im_end|>" and first.pad_token_id == 0
    config = MimicChatConfig.from_preset("tiny", tokenizer=first)
    assert config.text_config.vocab_size == len(first)
    assert [config.vid_start_token_id, config.vid_sep_token_id, config.video_token_id] == first.convert_tokens_to_ids(
        ["[VID]", "[SEP]", "<|video_pad|>"]
    )


def test_config_rejects_frame_counts_timesformer_cannot_take():
    with pytest.raises(Exception, match="temporal_num_frames .12. must be a multiple of vision_config.num_frames"):
        MimicChatConfig.from_preset("tiny", temporal_num_frames=12)
    with pytest.raises(Exception, match="multiple of spatial_num_frames"):
        MimicChatConfig.from_preset("tiny", temporal_num_frames=20, vision_config={"num_frames": 4})
    with pytest.raises(Exception, match="multiple of vision_config.num_frames"):
        MimicChatConfig.from_preset("tiny", vision_config={"num_frames": 3})
    with pytest.raises(Exception, match="vision tower 'vit' is not supported"):
        MimicChatConfig(vision_config={"model_type": "vit"})
    with pytest.raises(Exception, match="fusion_mode"):
        MimicChatConfig.from_preset("tiny", fusion_mode="concat")


def test_paper_preset_builds_on_meta_and_counts_parameters():
    config = MimicChatConfig.from_preset("paper")
    with torch.device("meta"):
        model = MimicChatForConditionalGeneration(config)
    counts = count_parameters(model)
    print(f"paper preset parameters: {counts}")
    text, vision = config.text_config, config.vision_config
    head_dim = text.hidden_size // text.num_attention_heads
    attention = text.hidden_size * head_dim * (2 * text.num_attention_heads + 2 * text.num_key_value_heads)
    layer = attention + 3 * text.hidden_size * text.intermediate_size + 2 * text.hidden_size
    llm = 2 * text.vocab_size * text.hidden_size + text.num_hidden_layers * layer + text.hidden_size
    projectors = 2 * (vision.hidden_size * text.hidden_size + text.hidden_size**2 + 2 * text.hidden_size)
    tower = count_parameters(model.model.vision_tower)["total"]
    assert counts["total"] == llm + projectors + tower + 2  # + the two token-gate logits
    assert counts["trainable"] == projectors + 2
    assert model.config.num_video_tokens == 49 + 32


def test_tiny_preset_starts_its_lm_at_width_scaled_std_its_projectors_at_torch_init_and_its_tower_at_0_02():
    # At width 128 the usual 0.02 left attention uniform and letter answers at chance for thousands of steps (#6).
    torch.manual_seed(0)
    model = MimicChatForConditionalGeneration(MimicChatConfig.from_preset("tiny"))
    inner = model.model
    for weight in (inner.language_model.embed_tokens.weight, inner.language_model.layers[0].self_attn.q_proj.weight,
                   inner.language_model.layers[3].mlp.down_proj.weight, model.lm_head.weight):
        assert abs(weight.std().item() - 0.08) < 0.005
    for projector in (inner.spatial_projector, inner.temporal_projector):
        for layer in (projector.linear_1, projector.linear_2):  # uniform(±1/sqrt(fan_in)), bias too
            bound = layer.in_features ** -0.5
            for tensor in (layer.weight, layer.bias):
                assert tensor.abs().max().item() <= bound and abs(tensor.std().item() - bound / 3**0.5) < 0.01
    tower_qkv = inner.vision_tower.encoder.layer[0].attention.attention.qkv.weight
    assert abs(tower_qkv.std().item() - 0.02) < 0.002
    assert model.config.text_config.num_attention_heads == 8


def test_processor_takes_video_files_and_bytes_like_transformers_video_processors(tokenizer, tmp_path):
    from mimic_data.render import write_mp4
    from modeling_mimic_chat.frames_mimic_chat import sample_frames

    model = tiny_model(tokenizer)
    processor = tiny_processor(model, tokenizer)
    path = write_mp4(random_clip(3, frames=30, height=48, width=64), tmp_path / "clip.mp4", fps=10)
    side = model.config.vision_config.image_size
    sampled = sample_frames(path, spatial=8, temporal=16, size=(side, side), threads=1)
    expected = processor.video_processor([{"spatial": sampled.spatial, "temporal": sampled.temporal}])
    prompt = video_prompt(processor, "What happens?")
    for video in (path, str(path), f"file://{path}", path.read_bytes()):
        batch = processor(text=[prompt], videos=[video])
        torch.testing.assert_close(batch["pixel_values_videos"], expected["pixel_values_videos"])
        torch.testing.assert_close(batch["pixel_values_spatial"], expected["pixel_values_spatial"])
    messages = [{"role": "user", "content": [{"type": "video", "path": str(path)},
                                             {"type": "text", "text": "What happens?"}]}]
    templated = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    torch.testing.assert_close(templated["pixel_values_videos"], expected["pixel_values_videos"])
    assert int((templated["input_ids"] == model.config.video_token_id).sum()) == model.config.num_video_tokens
    with pytest.raises(ValueError, match=r"video 0: cannot sample .*missing\.mp4: missing file"):
        processor(text=[prompt], videos=[tmp_path / "missing.mp4"])
    with pytest.raises(ValueError, match="text 0 comes with 2 videos"):
        processor(text=[prompt], videos=[[path, path]])
