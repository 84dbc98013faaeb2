"""InternLM2 -> Llama converter, checked against an independent InternLM2 forward written from its definition.

Uses a tiny random InternLM2-shaped state dict (random weights; the two computations must agree, nothing more).
"""

import json

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

from modeling_mimic_chat.convert_internlm2_to_llama import convert_checkpoint, convert_config, convert_state_dict

INTERNLM2_CONFIG = {
    "architectures": ["InternLM2ForCausalLM"],
    "vocab_size": 97,
    "hidden_size": 48,
    "intermediate_size": 80,
    "num_hidden_layers": 2,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000.0,
    "bias": False,
    "max_position_embeddings": 64,
}


def random_internlm2_state(config: dict, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    hidden, inter = config["hidden_size"], config["intermediate_size"]
    head_dim = hidden // config["num_attention_heads"]
    qkv_rows = (config["num_attention_heads"] + 2 * config["num_key_value_heads"]) * head_dim

    def rand(*shape):
        return torch.randn(*shape, generator=generator) * 0.2

    state = {"model.tok_embeddings.weight": rand(config["vocab_size"], hidden), "model.norm.weight": 1 + rand(hidden)}
    state["output.weight"] = rand(config["vocab_size"], hidden)
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        state |= {
            p + "attention.wqkv.weight": rand(qkv_rows, hidden),
            p + "attention.wo.weight": rand(hidden, hidden),
            p + "feed_forward.w1.weight": rand(inter, hidden),
            p + "feed_forward.w3.weight": rand(inter, hidden),
            p + "feed_forward.w2.weight": rand(hidden, inter),
            p + "attention_norm.weight": 1 + rand(hidden),
            p + "ffn_norm.weight": 1 + rand(hidden),
        }
    return state


def internlm2_reference_logits(state: dict, config: dict, input_ids: torch.Tensor) -> torch.Tensor:
    """InternLM2 forward from its definition: packed wqkv per KV group, rotate-half RoPE, GQA, SwiGLU, RMSNorm."""
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    hidden = config["hidden_size"]
    head_dim, groups = hidden // heads, heads // kv_heads
    eps = config["rms_norm_eps"]

    def rms(x, weight):
        return weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)

    seq = input_ids.shape[1]
    inv_freq = 1.0 / (config["rope_theta"] ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(seq).float(), inv_freq)
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()

    def rope(x):  # x: (batch, heads, seq, head_dim)
        half = head_dim // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin

    x = state["model.tok_embeddings.weight"][input_ids]
    causal = torch.full((seq, seq), float("-inf")).triu(1)
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = rms(x, state[p + "attention_norm.weight"])
        qkv = (h @ state[p + "attention.wqkv.weight"].T).view(*h.shape[:2], kv_heads, groups + 2, head_dim)
        q = qkv[..., :groups, :].reshape(*h.shape[:2], heads, head_dim).transpose(1, 2)
        k = qkv[..., -2, :].transpose(1, 2).repeat_interleave(groups, dim=1)
        v = qkv[..., -1, :].transpose(1, 2).repeat_interleave(groups, dim=1)
        scores = rope(q) @ rope(k).transpose(-1, -2) / head_dim**0.5 + causal
        attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(*h.shape[:2], hidden)
        x = x + attended @ state[p + "attention.wo.weight"].T
        h = rms(x, state[p + "ffn_norm.weight"])
        gate = torch.nn.functional.silu(h @ state[p + "feed_forward.w1.weight"].T)
        x = x + (gate * (h @ state[p + "feed_forward.w3.weight"].T)) @ state[p + "feed_forward.w2.weight"].T
    return rms(x, state["model.norm.weight"]) @ state["output.weight"].T


def test_converted_llama_matches_internlm2_reference():
    state = random_internlm2_state(INTERNLM2_CONFIG)
    llama_config = LlamaConfig(**convert_config(INTERNLM2_CONFIG))
    head_dim = INTERNLM2_CONFIG["hidden_size"] // INTERNLM2_CONFIG["num_attention_heads"]
    converted = convert_state_dict(state, 6, 2, head_dim)
    model = LlamaForCausalLM(llama_config).eval()
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert unexpected == [] and [k for k in missing if "rotary" not in k] == []
    input_ids = torch.randint(0, INTERNLM2_CONFIG["vocab_size"], (2, 11), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    torch.testing.assert_close(
        logits, internlm2_reference_logits(state, INTERNLM2_CONFIG, input_ids), atol=1e-4, rtol=1e-4
    )


def test_convert_checkpoint_folder_round_trip(tmp_path):
    src, dst = tmp_path / "internlm2", tmp_path / "llama"
    src.mkdir()
    state = random_internlm2_state(INTERNLM2_CONFIG, seed=3)
    save_file(state, src / "model.safetensors")
    (src / "config.json").write_text(json.dumps(INTERNLM2_CONFIG))
    convert_checkpoint(src, dst)
    model = LlamaForCausalLM.from_pretrained(dst).eval()
    input_ids = torch.arange(9).unsqueeze(0)
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
    torch.testing.assert_close(
        logits, internlm2_reference_logits(state, INTERNLM2_CONFIG, input_ids), atol=1e-4, rtol=1e-4
    )
