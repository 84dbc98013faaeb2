"""Model SPEC strings -> adapters.

  random[:SEED]              seeded uniform letter
  mimic-chat:PATH            MIMIC-Chat folder (remote code)
  hf:PATH                    transformers-native VLM (AutoModelForImageTextToText + AutoProcessor), e.g. Qwen2.5-VL
  blind-lm:PATH              text-only causal LM, never sees video
  openai:MODEL@BASE_URL      OpenAI-compatible chat completions, e.g. a vLLM server (key from $OPENAI_API_KEY)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # .base imports torch; `mimic --help` reads this module's docstring and must stay fast
    from .base import Adapter, GenerationSettings

KINDS = ("random", "mimic-chat", "hf", "blind-lm", "openai")
MIMIC_CHAT_MODEL_TYPE = "mimic_chat"


def check_mimic_chat_folder(target: str) -> None:
    """A local MIMIC-Chat folder must exist and hold a mimic_chat config.json; an `org/name` that is no local path is
    left to the Hub. Raises with one line naming the folder, instead of transformers' "Unrecognized processing class"."""
    folder = Path(target)
    looks_like_hub_id = not folder.is_absolute() and target.count("/") == 1 and not target.startswith(".")
    if not folder.exists():
        if looks_like_hub_id:
            return
        raise FileNotFoundError(f"mimic-chat:{target}: no such folder (an exported MIMIC-Chat folder, "
                                "`mimic train export --out DIR`, or a Hub id ORG/NAME)")
    config = folder / "config.json"
    model_type = json.loads(config.read_text()).get("model_type") if config.is_file() else None
    if model_type != MIMIC_CHAT_MODEL_TYPE:
        found = f"model_type {model_type!r}" if config.is_file() else "no config.json"
        raise ValueError(f"mimic-chat:{target}: not a MIMIC-Chat folder ({found}); use hf:PATH for other models")


def build_adapter(spec: str, *, name: str | None = None, batch_size: int = 1, scoring: str = "generate",
                  num_frames: int = 8, settings: GenerationSettings | None = None,
                  trust_remote_code: bool = False, dtype: str | None = None,
                  attn_implementation: str | None = None, placement: dict[str, Any] | None = None,
                  api: dict[str, Any] | None = None) -> Adapter:
    """`placement`: device_map / max_memory / quantization of hf: and mimic-chat: models (HFVideoAdapter fields);
    `api`: video_form / media_dir / timeout_s / max_retries of openai: models (OpenAIChatAdapter fields)."""
    kind, _, target = spec.partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} in {spec!r}; use one of {', '.join(KINDS)} (see --help)")
    if scoring not in ("generate", "likelihood"):
        raise ValueError(f"scoring must be generate or likelihood, not {scoring!r}")
    placement = {key: value for key, value in (placement or {}).items() if value}
    api = {key: value for key, value in (api or {}).items() if value is not None}
    if placement and kind not in ("hf", "mimic-chat"):
        raise ValueError(f"{', '.join(sorted(placement))} place hf: and mimic-chat: models, not {kind}:")
    if api and kind != "openai":
        raise ValueError(f"{', '.join(sorted(api))} apply to openai: models, not {kind}:")
    from .base import GenerationSettings

    common: dict[str, Any] = {"batch_size": batch_size, "scoring": scoring,
                              "settings": settings or GenerationSettings()}
    if kind == "random":
        from .baselines import RandomAdapter

        seed = int(target) if target else 0
        return RandomAdapter(name=name or f"random-{seed}", seed=seed, batch_size=batch_size)
    if kind == "openai":
        from .openai_api import OpenAIChatAdapter

        model_id, _, base_url = target.partition("@")
        if not model_id or not base_url:
            raise ValueError(f"openai spec must be openai:MODEL@BASE_URL, got {spec!r}")
        if scoring == "likelihood":
            raise ValueError("likelihood scoring needs an open model's logits; API models use scoring=generate")
        return OpenAIChatAdapter(name=name or model_id, model_id=model_id, base_url=base_url, num_frames=num_frames,
                                 **api, **common)
    if not target:
        raise ValueError(f"{kind} needs a model folder or Hub id: {kind}:PATH")
    default_name = Path(target).name or target
    if kind == "mimic-chat":
        check_mimic_chat_folder(target)
        from .hf_vlm import MimicChatAdapter

        return MimicChatAdapter(name=name or default_name, path=target, dtype=dtype,
                                attn_implementation=attn_implementation, **placement, **common)
    if kind == "hf":
        from .hf_vlm import HFVideoAdapter

        return HFVideoAdapter(name=name or default_name, path=target, num_frames=num_frames,
                              trust_remote_code=trust_remote_code, dtype=dtype,
                              attn_implementation=attn_implementation, **placement, **common)
    from .baselines import BlindLMAdapter

    return BlindLMAdapter(name=name or default_name, path=target, **common)
