"""LoRA for MIMIC-Chat: adapters on the LM's attention projections, projectors and gates trained in full."""

from __future__ import annotations

from peft import LoraConfig

from modeling_mimic_chat.modeling_mimic_chat import count_parameters


def lora_config(lora_cfg: dict, fusion_mode: str) -> LoraConfig:
    if fusion_mode == "xattn_gate":
        # peft would wrap copies of the cross-attention blocks in modules_to_save, but the decoder-layer hooks call the
        # original blocks, so the trained copies would never run. Train xattn_gate with lora.enabled=false.
        raise ValueError("LoRA training supports fusion_mode='token_gate'; set lora.enabled=false for 'xattn_gate'")
    return LoraConfig(
        r=lora_cfg["r"],
        lora_alpha=lora_cfg["alpha"],
        lora_dropout=lora_cfg["dropout"],
        target_modules=lora_cfg["target_modules"],
        modules_to_save=list(lora_cfg["modules_to_save"]),
        bias="none",
    )


def trainable_summary(model) -> str:
    """One line per group of trainable parameters plus the totals, printed when training starts."""
    groups: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            plain = name.removeprefix("base_model.model.").replace(".modules_to_save.default", "")
            key = "lora adapters" if "lora_" in name else ".".join(plain.split(".")[:2])
            groups[key] = groups.get(key, 0) + parameter.numel()
    counts = count_parameters(model)
    lines = [f"  {count:>12,}  {name}" for name, count in sorted(groups.items())]
    share = counts["trainable"] / max(1, counts["total"])
    lines.append(f"trainable {counts['trainable']:,} of {counts['total']:,} parameters ({share:.2%})")
    return "\n".join(["trainable parameters:", *lines])
