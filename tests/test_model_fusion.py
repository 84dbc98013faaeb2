"""Fusion behaviour, cached generation, freezing and loss of MIMIC-Chat (tiny random models, random weights)."""

import pytest
import torch
from model_helpers import open_gates, random_clip, tiny_model, tiny_processor, tiny_tokenizer, video_prompt

from modeling_mimic_chat.modeling_mimic_chat import count_parameters


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def two_prompt_batch(processor, videos):
    texts = [video_prompt(processor, "Which title fits best? A, B, C or D"), video_prompt(processor, "Comment:")]
    return processor(text=texts, videos=videos)


@pytest.mark.parametrize("fusion_mode", ["token_gate", "xattn_gate"])
def test_generate_with_and_without_cache_agree_and_left_padding_batches(tokenizer, fusion_mode):
    model = tiny_model(tokenizer, fusion_mode=fusion_mode)
    if fusion_mode == "xattn_gate":
        open_gates(model)  # closed gates would hide a decode step that forgot the video
    processor = tiny_processor(model, tokenizer)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    assert (batch["attention_mask"][:, 0] == 0).any(), "the shorter prompt must be left-padded"
    settings = {"max_new_tokens": 5, "do_sample": False, "output_scores": True, "return_dict_in_generate": True}
    cached = model.generate(**batch, use_cache=True, **settings)
    uncached = model.generate(**batch, use_cache=False, **settings)
    assert torch.equal(cached.sequences, uncached.sequences)
    for step_cached, step_uncached in zip(cached.scores, uncached.scores, strict=True):
        torch.testing.assert_close(step_cached, step_uncached, atol=1e-4, rtol=1e-4)
    # Each row generated alone (no padding) gives the same continuation as inside the left-padded batch.
    prompt_len = batch["input_ids"].shape[1]
    for row in range(2):
        single = {key: value[row : row + 1] for key, value in batch.items()}
        keep = single["attention_mask"][0].bool()
        single["input_ids"], single["attention_mask"] = single["input_ids"][:, keep], single["attention_mask"][:, keep]
        alone = model.generate(**single, max_new_tokens=5, do_sample=False)
        assert torch.equal(alone[0, int(keep.sum()) :], cached.sequences[row, prompt_len:])


def test_cross_attention_gates_start_closed_and_leave_the_lm_unchanged(tokenizer):
    model = tiny_model(tokenizer, fusion_mode="xattn_gate")
    processor = tiny_processor(model, tokenizer)
    assert model.config.num_video_tokens == 0  # the prompt holds only [VID][SEP]; the video enters via xattn
    gates = [g for block in model.model.cross_attn_blocks.values() for g in (block.attn_gate, block.ffn_gate)]
    assert gates and all(g.item() == 0.0 for g in gates)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    text_only = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        lm_only = model(**text_only).logits
        with_video = model(**batch).logits
        other_video = model(**two_prompt_batch(processor, [random_clip(7), random_clip(8)])).logits
        open_gates(model)
        opened = model(**batch).logits
    assert torch.equal(with_video, lm_only) and torch.equal(other_video, lm_only)
    assert not torch.allclose(opened, lm_only, atol=1e-3)
    # Loading fills missing gates through _init_weights, which must close them again.
    block = model.model.cross_attn_blocks["0"]
    model._init_weights(block)
    assert block.attn_gate.item() == 0.0 and block.ffn_gate.item() == 0.0


def test_token_gate_passes_the_video_signal(tokenizer):
    model = tiny_model(tokenizer, fusion_mode="token_gate")
    processor = tiny_processor(model, tokenizer)
    n = model.config.num_video_tokens
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    ids = batch["input_ids"][0]
    start = int((ids == model.config.vid_start_token_id).nonzero())
    assert ids[start + n + 1] == model.config.vid_sep_token_id
    assert bool((ids[start + 1 : start + 1 + n] == model.config.video_token_id).all())
    blank = [torch.zeros(16, 32, 32, 3, dtype=torch.uint8)] * 2  # the harness's "video blanked" input
    with torch.no_grad():
        logits = model(**batch).logits[:, -1]
        other = model(**two_prompt_batch(processor, [random_clip(5), random_clip(6)])).logits[:, -1]
        blanked = model(**two_prompt_batch(processor, blank)).logits[:, -1]
    assert torch.isfinite(blanked).all()
    assert (logits - other).abs().max() > 1e-3 and (logits - blanked).abs().max() > 1e-3


def test_mismatched_video_slots_raise_a_clear_error(tokenizer):
    model = tiny_model(tokenizer)
    processor = tiny_processor(model, tokenizer)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    input_ids = batch["input_ids"].clone()
    first_slot = int((input_ids[0] == model.config.video_token_id).nonzero()[0])
    input_ids[0, first_slot] = model.config.vid_sep_token_id  # row 0 now has one slot too few
    with pytest.raises(ValueError, match="videos of 20 tokens"):
        model(input_ids=input_ids, pixel_values_videos=batch["pixel_values_videos"])


@pytest.mark.parametrize("fusion_mode", ["token_gate", "xattn_gate"])
def test_frozen_parts_get_no_gradients_and_counts_match(tokenizer, fusion_mode):
    model = tiny_model(tokenizer, fusion_mode=fusion_mode).train()
    counts = count_parameters(model)
    print(f"{fusion_mode} tiny parameters: {counts}")
    core = model.model
    frozen_modules = [core.vision_tower, core.language_model, model.lm_head]
    fusion = core.token_gate if fusion_mode == "token_gate" else core.cross_attn_blocks
    trainable_modules = [core.spatial_projector, core.temporal_projector, fusion]
    assert counts["frozen"] == sum(count_parameters(m)["total"] for m in frozen_modules)
    assert counts["trainable"] == sum(count_parameters(m)["total"] for m in trainable_modules)
    assert counts["total"] == counts["frozen"] + counts["trainable"]

    if fusion_mode == "xattn_gate":
        open_gates(model, 0.3)  # zero gates would (correctly) stop the gradient into the xattn weights
    processor = tiny_processor(model, tokenizer)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model(**batch, labels=labels).loss.backward()
    for module in frozen_modules:
        assert all(p.grad is None for p in module.parameters())
    for module in trainable_modules:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize("fusion_mode", ["token_gate", "xattn_gate"])
def test_unfrozen_vision_tower_trains_and_checkpointing_keeps_the_gradients(tokenizer, fusion_mode):
    model = tiny_model(tokenizer, fusion_mode=fusion_mode, freeze_vision=False).train()
    if fusion_mode == "xattn_gate":
        open_gates(model, 0.3)
    processor = tiny_processor(model, tokenizer)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)

    def tower_grads():
        model.zero_grad(set_to_none=True)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    loss, grads = tower_grads()
    assert all(g.abs().sum() > 0 for g in grads)
    model.activation_checkpointing_enable()
    assert model.is_activation_checkpointing
    loss_ckpt, grads_ckpt = tower_grads()
    torch.testing.assert_close(loss_ckpt, loss)
    for g, g_ckpt in zip(grads, grads_ckpt, strict=True):
        torch.testing.assert_close(g_ckpt, g, atol=1e-5, rtol=1e-4)


def test_loss_is_shifted_token_cross_entropy_ignoring_minus_100(tokenizer):
    model = tiny_model(tokenizer)
    processor = tiny_processor(model, tokenizer)
    batch = two_prompt_batch(processor, [random_clip(1), random_clip(2)])
    labels = batch["input_ids"].masked_fill(batch["input_ids"] == model.config.video_token_id, -100)
    labels = labels.masked_fill(batch["attention_mask"] == 0, -100)
    with torch.no_grad():
        out = model(**batch, labels=labels)
    expected = torch.nn.functional.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(out.loss, expected)
