"""Memory plan of the paper recipe per GPU: weights, gradients, optimizer state and activations, from the meta-device
`paper` preset wrapped in the recipe's LoRA (train/configs/paper_lora.yaml), for DDP, ZeRO-2 and ZeRO-3 / FSDP.

No weights are allocated (meta device), so it runs anywhere in seconds. Writes runs/bench/memory_plan.json and prints a
table. Activations are an estimate, stated with its formula: with activation checkpointing each decoder layer keeps
its input (b*s*h bf16 values), one layer at a time is recomputed with its full working set (about 34*b*s*h bytes with
a fused attention kernel, Korthikanti et al. 2022), and the logits exist in bf16 and again in float32 for the loss.

    .venv/bin/python perf/memory_plan.py --out runs/bench [--processes 8]
"""

import argparse
from pathlib import Path

import torch
from peft import get_peft_model

from mimic_data.io import atomic_write_json
from mimic_train.sft import parse_recipe, peft_config
from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration

PAPER_CONFIG = Path(__file__).parents[1] / "train" / "configs" / "paper_lora.yaml"
GIB = 1024**3


def parameter_bytes(model) -> dict[str, int]:
    """Bytes of the trainable and the frozen parameters, each at its own dtype (LoRA adapters stay float32)."""
    totals = {"trainable": 0, "frozen": 0, "trainable_params": 0}
    seen = set()
    for parameter in model.parameters():
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        size = parameter.numel() * parameter.element_size()
        totals["trainable" if parameter.requires_grad else "frozen"] += size
        totals["trainable_params"] += parameter.numel() if parameter.requires_grad else 0
    return totals


def activation_bytes(config: MimicChatConfig, batch: int, seq: int, checkpointing: bool) -> int:
    text = config.text_config
    per_layer_input = batch * seq * text.hidden_size * 2
    working_set = 34 * batch * seq * text.hidden_size
    logits = batch * seq * text.vocab_size * (2 + 4)
    layers = text.num_hidden_layers
    return (layers * per_layer_input + working_set if checkpointing else layers * working_set) + logits


def plan(processes: int) -> dict:
    recipe = parse_recipe(["--config", str(PAPER_CONFIG), "--model_name_or_path", "paper", "--output_dir", "unused"])
    training, dtype = recipe.training, getattr(torch, recipe.model.dtype)
    config = MimicChatConfig.from_preset("paper")
    with torch.device("meta"):
        model = MimicChatForConditionalGeneration(config).to(dtype)
        model = get_peft_model(model, peft_config(recipe.lora, config.fusion_mode))
    sizes = parameter_bytes(model)
    weights = sizes["trainable"] + sizes["frozen"]
    gradients = sizes["trainable"]  # one gradient per trainable parameter, at its dtype
    optimizer = 2 * sizes["trainable"] + (4 * sizes["trainable_params"] if dtype != torch.float32 else 0)
    # AdamW keeps two moments at the parameter's dtype; DeepSpeed/FSDP mixed precision adds a float32 master copy.
    activations = activation_bytes(config, training.per_device_train_batch_size, training.max_length,
                                   bool(training.activation_checkpointing))
    strategies = {
        "ddp": (weights, gradients, optimizer),
        "zero2": (weights, gradients / processes, optimizer / processes),
        "zero3_or_fsdp": (weights / processes, gradients / processes, optimizer / processes),
    }
    rows = {name: {"weights_gib": w / GIB, "gradients_gib": g / GIB, "optimizer_gib": o / GIB,
                   "activations_gib": activations / GIB, "total_gib": (w + g + o + activations) / GIB}
            for name, (w, g, o) in strategies.items()}
    return {"processes": processes, "dtype": recipe.model.dtype, "per_device_batch": training.per_device_train_batch_size,
            "max_length": training.max_length, "activation_checkpointing": bool(training.activation_checkpointing),
            "trainable_parameters": sizes["trainable_params"], "weights_gib": weights / GIB, "per_gpu": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--processes", type=int, default=8, help="GPUs (train/accelerate/*.yaml use 8)")
    args = parser.parse_args()
    result = plan(args.processes)
    path = atomic_write_json(args.out / "memory_plan.json", result)
    print(f"{'GiB per GPU':<14} {'weights':>8} {'grads':>7} {'optim':>7} {'activ':>7} {'total':>7}")
    for name, row in result["per_gpu"].items():
        print(f"{name:<14} {row['weights_gib']:>8.2f} {row['gradients_gib']:>7.2f} {row['optimizer_gib']:>7.2f} "
              f"{row['activations_gib']:>7.2f} {row['total_gib']:>7.2f}")
    print(f"paper preset, {result['dtype']}, LoRA: {result['trainable_parameters']:,} trainable parameters; batch "
          f"{result['per_device_batch']} x {result['max_length']} tokens per GPU, {result['processes']} GPUs  -> {path}")


if __name__ == "__main__":
    main()
