"""Each adapter on tiny configs built locally (random weights: only wiring, batching and determinism are checked)."""

import pytest
import torch
from eval_helpers import save_tiny_llava_onevision, save_tiny_mimic_chat, save_tiny_qwen25_vl

from mimic_eval.adapters.base import LETTERS, GenerationSettings, McqRequest
from mimic_eval.adapters.registry import build_adapter

BUILDERS = {"mimic-chat": save_tiny_mimic_chat, "hf-qwen2.5-vl": save_tiny_qwen25_vl,
            "hf-llava-onevision": save_tiny_llava_onevision}
PROMPTS = ["Select the title.\nA. red ball\nB. blue cat\nC. a dog\nD. green sky\nAnswer with the letter.",
           "Pick a tag.\nA. x\nB. y\nC. z\nD. w"]


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def model_folder(request, tmp_path_factory):
    kind = request.param
    folder = BUILDERS[kind](tmp_path_factory.mktemp(kind) / "model")
    return ("mimic-chat" if kind == "mimic-chat" else "hf") + ":" + str(folder)


def frames_for(adapter, seed=0):
    policy = adapter.frame_policy()
    h, w = policy.size or (56, 56)
    g = torch.Generator().manual_seed(seed)
    times = {name: [0.5 + i for i in range(count)] for name, count in (("spatial", policy.spatial),
                                                                       ("temporal", policy.temporal))}
    # a 10 s clip of 300 frames as the sampler describes it (Qwen2.5-VL and kin refuse frames without times)
    return {"spatial": torch.randint(0, 256, (policy.spatial, h, w, 3), dtype=torch.uint8, generator=g),
            "temporal": torch.randint(0, 256, (policy.temporal, h, w, 3), dtype=torch.uint8, generator=g),
            "times": {**times, "duration_s": 10.0, "num_frames": 300}}


def test_likelihood_mode_batches_like_single_requests_and_sees_the_video(model_folder):
    adapter = build_adapter(model_folder, scoring="likelihood", num_frames=4, batch_size=2)
    video = frames_for(adapter)
    batched = adapter.answer([McqRequest(p, video) for p in PROMPTS])
    singles = [adapter.answer([McqRequest(p, video)])[0] for p in PROMPTS]
    for b, s in zip(batched, singles, strict=True):
        assert b.letter in LETTERS and b.letter == LETTERS[max(range(4), key=b.letter_scores.__getitem__)]
        assert b.letter_scores == pytest.approx(s.letter_scores, abs=2e-3)  # left padding must not change answers
    blank = {k: torch.zeros_like(v) if k != "times" else v for k, v in video.items()}
    assert adapter.answer([McqRequest(PROMPTS[0], blank)])[0].letter_scores != batched[0].letter_scores
    blind = adapter.answer([McqRequest(PROMPTS[0], None)])[0]
    assert blind.letter in LETTERS


def test_generate_mode_is_deterministic_text(model_folder):
    adapter = build_adapter(model_folder, num_frames=4, settings=GenerationSettings(max_new_tokens=4))
    video = frames_for(adapter)
    first = adapter.answer([McqRequest(PROMPTS[0], video)])[0].response
    assert isinstance(first, str) and first == adapter.answer([McqRequest(PROMPTS[0], video)])[0].response
    sampled = adapter.generate([McqRequest("Write a comment.", video)] * 2,
                               GenerationSettings(max_new_tokens=4, do_sample=True, temperature=1.0, seed=3))
    assert len(sampled) == 2 and all(isinstance(t, str) for t in sampled)


def test_identity_names_the_weights(model_folder):
    identity = build_adapter(model_folder, num_frames=4).identity()
    assert identity["weights"] and identity["class"].endswith("ForConditionalGeneration")


def test_dtype_and_attention_options_reach_the_loaded_model_and_the_identity(model_folder):
    adapter = build_adapter(model_folder, num_frames=4, dtype="bfloat16", attn_implementation="sdpa")
    assert {p.dtype for p in adapter.model.parameters()} == {torch.bfloat16}
    assert adapter.model.config._attn_implementation == "sdpa"
    identity = adapter.identity()
    assert (identity["dtype"], identity["attn_implementation"]) == ("bfloat16", "sdpa")
    assert "dtype" not in build_adapter(model_folder, num_frames=4).identity()  # unset: old run caches stay valid
    assert adapter.answer([McqRequest(PROMPTS[0], frames_for(adapter))])[0].response is not None


def test_random_baseline_is_seeded_uniform_and_process_independent():
    prompts = [McqRequest(f"question {i}", None) for i in range(800)]
    letters = [a.letter for a in build_adapter("random:7").answer(prompts)]
    assert letters == [a.letter for a in build_adapter("random:7").answer(prompts)]
    assert letters != [a.letter for a in build_adapter("random:8").answer(prompts)]
    counts = {letter: letters.count(letter) for letter in LETTERS}
    assert all(150 < c < 250 for c in counts.values()), counts
    # sha256-based, so the value is fixed across processes and Python versions (no salted hash()).
    assert build_adapter("random:0").answer([McqRequest("fixed", None)])[0].letter == "ABCD"[
        __import__("hashlib").sha256(b"0\0fixed").digest()[0] % 4]


def test_blind_lm_answers_from_text_only(tmp_path):
    from model_helpers import tiny_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=4, num_key_value_heads=2, pad_token_id=0)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    adapter = build_adapter(f"blind-lm:{tmp_path}", scoring="likelihood", batch_size=2)
    assert adapter.frame_policy() is None  # never asks for frames
    answers = adapter.answer([McqRequest(p, None) for p in PROMPTS])
    assert [a.letter for a in answers] == [adapter.answer([McqRequest(p, None)])[0].letter for p in PROMPTS]


def test_bad_specs_fail_with_clear_errors():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_adapter("gpt5")
    with pytest.raises(ValueError, match="openai:MODEL@BASE_URL"):
        build_adapter("openai:gpt")
    with pytest.raises(ValueError, match="logits"):
        build_adapter("openai:m@http://x", scoring="likelihood")
