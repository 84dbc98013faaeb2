"""Where an hf: model's weights go and in what form: the `from_pretrained` keywords for dtype, attention kernel,
device placement (whole on this rank's device, or sharded by `device_map` over this rank's GPUs) and bitsandbytes
quantization."""

from __future__ import annotations

import importlib.util
from typing import Any

from .known_needs import UnmetNeed

DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
QUANTIZATIONS = ("4bit", "8bit")


def parse_max_memory(text: str | None) -> dict[int | str, str] | None:
    """`0=70GiB,1=70GiB,cpu=200GiB` -> {0: "70GiB", 1: "70GiB", "cpu": "200GiB"} (accelerate's max_memory)."""
    if not text:
        return None
    memory: dict[int | str, str] = {}
    for part in text.split(","):
        device, sep, amount = part.strip().partition("=")
        if not sep or not amount or not (device.isdigit() or device in ("cpu", "disk")):
            raise ValueError(f"--max-memory: {part!r} is not DEVICE=AMOUNT (DEVICE a GPU index, cpu or disk), "
                             "e.g. 0=70GiB,1=70GiB,cpu=200GiB")
        memory[int(device) if device.isdigit() else device] = amount
    return memory


def _torch_dtype(dtype: str | None, on_gpu: bool):
    import torch

    name = dtype or ("auto" if on_gpu else "float32")  # CPU kernels for half precision are slow or missing
    return name if name == "auto" else getattr(torch, name)


def quantization_config(quantization: str | None, dtype: str | None):
    """BitsAndBytesConfig for "4bit"/"8bit", or None; a one-line error when bitsandbytes is not installed."""
    if quantization is None:
        return None
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {quantization!r}")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UnmetNeed(f"--load-in-{quantization} needs the bitsandbytes package, which is not installed "
                          "(pip install bitsandbytes)")
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = getattr(torch, dtype) if dtype not in (None, "auto") else torch.bfloat16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)


def rank_max_memory(max_memory: dict[int | str, str] | None) -> dict[int | str, Any] | None:
    """max_memory for `device_map` in this process: the user's budget (or accelerate's free-memory default) cut to this
    rank's GPUs when several processes share the machine, so data-parallel ranks never shard onto each other's GPUs."""
    from ..harness.sharding import local_rank_and_world, rank_gpus

    if local_rank_and_world()[1] == 1:
        return max_memory
    import torch
    from accelerate.utils import get_max_memory

    mine = set(rank_gpus(torch.cuda.device_count() if torch.cuda.is_available() else 0))
    budget = get_max_memory(dict(max_memory) if max_memory else None)  # (it converts the dict given in place)
    return {device: amount for device, amount in budget.items()
            if not isinstance(device, int) or device in mine}


def load_kwargs(*, dtype: str | None = None, attn_implementation: str | None = None, device_map: str | None = None,
                max_memory: dict[int | str, str] | None = None, quantization: str | None = None) -> dict[str, Any]:
    """Keywords for `from_pretrained`. Without device_map the whole model goes to this rank's device (cuda:LOCAL_RANK
    under `accelerate launch`, else cuda:0 or the CPU); with it, accelerate shards the layers over this rank's GPUs."""
    from ..harness.sharding import rank_device

    if device_map is not None and device_map not in DEVICE_MAPS:
        raise ValueError(f"device_map must be one of {', '.join(DEVICE_MAPS)}, not {device_map!r}")
    if max_memory and device_map is None:
        raise ValueError("--max-memory budgets a sharded model: pass it with --device-map auto (or balanced)")
    kwargs: dict[str, Any] = {}
    if device_map is None:
        device = rank_device()
        kwargs["device_map"] = {"": str(device)}  # loads straight onto the device (and works for quantized weights)
    else:
        import torch

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        kwargs["device_map"] = device_map
        memory = rank_max_memory(max_memory)
        if memory:
            kwargs["max_memory"] = memory
    kwargs["dtype"] = _torch_dtype(dtype, device.type == "cuda")
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    quantized = quantization_config(quantization, dtype)
    if quantized is not None:
        kwargs["quantization_config"] = quantized
    return kwargs
