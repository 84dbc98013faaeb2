"""Convert an InternLM2(-Chat) checkpoint into a native transformers `LlamaForCausalLM` (the MIMIC-Chat backbone).

InternLM2's remote code predates transformers 5 (no GenerationMixin, tuple caches), so MIMIC-Chat runs the same weights
as a Llama model: `wqkv` is split into q/k/v and modules are renamed. Usage on a downloaded checkpoint:

    python -m modeling_mimic_chat.convert_internlm2_to_llama /path/to/internlm2-chat-7b /path/to/internlm2-chat-7b-llama
"""

import argparse
import json
from pathlib import Path

import torch

# InternLM2 module-name fragments -> Llama ones (applied to every key after the wqkv split).
RENAMES = (
    ("model.tok_embeddings.", "model.embed_tokens."),
    (".attention.wo.", ".self_attn.o_proj."),
    (".feed_forward.w1.", ".mlp.gate_proj."),
    (".feed_forward.w3.", ".mlp.up_proj."),
    (".feed_forward.w2.", ".mlp.down_proj."),
    (".attention_norm.", ".input_layernorm."),
    (".ffn_norm.", ".post_attention_layernorm."),
)


def split_wqkv(wqkv: torch.Tensor, num_heads: int, num_kv_heads: int, head_dim: int):
    """InternLM2 packs q/k/v per KV group as rows `(kv_head, q_per_kv + 2, head_dim)`: q rows first, then k, then v."""
    q_per_kv = num_heads // num_kv_heads
    grouped = wqkv.reshape(num_kv_heads, q_per_kv + 2, head_dim, wqkv.shape[-1])
    q = grouped[:, :q_per_kv].reshape(num_heads * head_dim, -1)
    k = grouped[:, -2].reshape(num_kv_heads * head_dim, -1)
    v = grouped[:, -1].reshape(num_kv_heads * head_dim, -1)
    return q.contiguous(), k.contiguous(), v.contiguous()


def convert_state_dict(state_dict: dict, num_heads: int, num_kv_heads: int, head_dim: int) -> dict:
    """InternLM2 `state_dict` -> LlamaForCausalLM `state_dict` (tensors are not copied except the q/k/v split)."""
    converted = {}
    for key, tensor in state_dict.items():
        if key.endswith("attention.wqkv.weight"):
            prefix = key[: -len("attention.wqkv.weight")]
            q, k, v = split_wqkv(tensor, num_heads, num_kv_heads, head_dim)
            converted[prefix + "self_attn.q_proj.weight"] = q
            converted[prefix + "self_attn.k_proj.weight"] = k
            converted[prefix + "self_attn.v_proj.weight"] = v
            continue
        if key.endswith("rotary_emb.inv_freq"):
            continue  # recomputed by Llama from rope_parameters
        new_key = "lm_head." + key[len("output.") :] if key.startswith("output.") else key
        for old, new in RENAMES:
            new_key = new_key.replace(old, new)
        converted[new_key] = tensor
    return converted


def convert_config(internlm2: dict) -> dict:
    """InternLM2 config.json dict -> LlamaConfig kwargs. Rope scaling (dynamic NTK) is carried into rope_parameters."""
    num_heads = internlm2["num_attention_heads"]
    rope = {"rope_type": "default", "rope_theta": float(internlm2.get("rope_theta", 10000.0))}
    scaling = internlm2.get("rope_scaling") or {}
    if scaling:
        rope.update(rope_type=scaling.get("type", scaling.get("rope_type")), factor=float(scaling["factor"]))
    return {
        "vocab_size": internlm2["vocab_size"],
        "hidden_size": internlm2["hidden_size"],
        "intermediate_size": internlm2["intermediate_size"],
        "num_hidden_layers": internlm2["num_hidden_layers"],
        "num_attention_heads": num_heads,
        "num_key_value_heads": internlm2.get("num_key_value_heads", num_heads),
        "max_position_embeddings": internlm2.get("max_position_embeddings", 32768),
        "rms_norm_eps": internlm2.get("rms_norm_eps", 1e-6),
        "rope_parameters": rope,
        "attention_bias": bool(internlm2.get("bias", False)),
        "tie_word_embeddings": bool(internlm2.get("tie_word_embeddings", False)),
        "bos_token_id": internlm2.get("bos_token_id", 1),
        "eos_token_id": internlm2.get("eos_token_id", 2),
        "pad_token_id": internlm2.get("pad_token_id", 0),
    }


def _load_checkpoint(folder: Path) -> dict:
    from safetensors.torch import load_file

    state = {}
    shards = sorted(folder.glob("*.safetensors"))
    for shard in shards:
        state.update(load_file(shard))
    if not shards:
        for shard in sorted(folder.glob("pytorch_model*.bin")):
            state.update(torch.load(shard, map_location="cpu", weights_only=True))
    if not state:
        raise FileNotFoundError(f"{folder}: no *.safetensors or pytorch_model*.bin weights found")
    return state


def convert_checkpoint(src: Path, dst: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    source_config = json.loads((src / "config.json").read_text())
    llama_kwargs = convert_config(source_config)
    head_dim = llama_kwargs["hidden_size"] // llama_kwargs["num_attention_heads"]
    state = convert_state_dict(
        _load_checkpoint(src), llama_kwargs["num_attention_heads"], llama_kwargs["num_key_value_heads"], head_dim
    )
    config = LlamaConfig(**llama_kwargs)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model.load_state_dict(state, strict=True, assign=True)
    model.save_pretrained(dst)
    return dst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path, help="InternLM2 checkpoint folder (config.json + weights)")
    parser.add_argument("dst", type=Path, help="output folder for the LlamaForCausalLM checkpoint")
    args = parser.parse_args(argv)
    print(convert_checkpoint(args.src, args.dst))


if __name__ == "__main__":
    main()
