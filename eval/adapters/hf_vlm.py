"""Transformers-native video VLMs (AutoModelForImageTextToText + AutoProcessor chat templates), e.g. Qwen2.5-VL and
LLaVA-OneVision; MIMIC-Chat reuses this adapter with its own video format."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy

from ..harness.fingerprint import folder_weights_fingerprint
from .base import Adapter, LocalModelAnswers, McqRequest, letter_token_ids


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class HFVideoAdapter(LocalModelAnswers, Adapter):
    """A VLM loaded from a local folder or Hub id; the video goes in as the temporal frames [T, H, W, 3]."""

    kind = "hf"
    path: str = ""
    num_frames: int = 8
    frame_size: tuple[int, int] | None = None
    trust_remote_code: bool = False
    revision: str | None = None
    dtype: str | None = None  # None: the checkpoint's dtype on CUDA, float32 on the CPU
    attn_implementation: str | None = None  # e.g. "sdpa", "flash_attention_2"; None: transformers' default
    model: Any = None
    processor: Any = None

    def __post_init__(self):
        if self.model is None:
            self.model, self.processor = self._load()
        self.processor.tokenizer.padding_side = "left"  # last position = next token for every row of a batch
        self.model.eval()
        self._letter_ids = letter_token_ids(self.processor.tokenizer) if self.scoring == "likelihood" else None

    def _load(self):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        kwargs = {"trust_remote_code": self.trust_remote_code, "revision": self.revision}
        processor = AutoProcessor.from_pretrained(self.path, **kwargs)
        dtype = self.dtype or ("auto" if torch.cuda.is_available() else "float32")
        dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        extra = {"attn_implementation": self.attn_implementation} if self.attn_implementation else {}
        model = AutoModelForImageTextToText.from_pretrained(self.path, dtype=dtype, **kwargs, **extra).to(_device())
        return model, processor

    def frame_policy(self) -> FramePolicy:
        return FramePolicy(spatial=8, temporal=self.num_frames, size=self.frame_size)

    def identity(self) -> dict[str, Any]:
        weights = folder_weights_fingerprint(self.path) if self.path and os.path.isdir(self.path) else None
        return {"kind": self.kind, "name": self.name, "path": str(self.path), "revision": self.revision,
                "class": type(self.model).__name__, "weights": weights, "scoring": self.scoring,
                "num_frames": self.num_frames,
                # precision and kernels change results; recorded only when set, so older run caches stay valid
                **{key: value for key, value in (("dtype", self.dtype), ("attn_implementation",
                                                                         self.attn_implementation)) if value}}

    def video_input(self, video: dict[str, Any]) -> Any:
        return video["temporal"]

    def video_metadata(self, video: dict[str, Any]) -> dict[str, Any] | None:
        """Where the temporal frames sit in time, as transformers' `VideoMetadata` fields: processors that place frames
        in time (Qwen2.5-VL's `second_per_grid_ts`, Qwen3-VL's and SmolVLM's timestamps, all `frames_indices / fps`)
        otherwise assume 24 fps. `fps` is the clip's mean rate, so on a constant-frame-rate clip the indices are the
        real ones; on a variable-frame-rate clip they are the sampler's times on that mean grid (within half a frame).
        None when the frames carry no times."""
        times = video.get("times")
        if times is None or times["duration_s"] <= 0:
            return None
        fps = times["num_frames"] / times["duration_s"]
        height, width = video["temporal"].shape[1:3]
        return {"total_num_frames": times["num_frames"], "fps": fps, "duration": times["duration_s"],
                "width": int(width), "height": int(height),
                "frames_indices": [round(t * fps) for t in times["temporal"]]}

    def _batch(self, requests: list[McqRequest]):
        texts, videos, metadata = [], [], []
        for request in requests:
            content = ([{"type": "video"}] if request.video is not None else []) + [
                {"type": "text", "text": request.prompt}]
            messages = [{"role": "user", "content": content}]
            texts.append(self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
            if request.video is not None:
                videos.append(self.video_input(request.video))
                metadata.append(self.video_metadata(request.video))
        if videos and len(videos) != len(texts):
            raise ValueError("a batch mixes requests with and without video; group them by condition")
        kwargs = self.processor_kwargs(bool(videos))
        if videos and all(meta is not None for meta in metadata):
            kwargs["video_metadata"] = metadata
        batch = self.processor(text=texts, videos=videos or None, return_tensors="pt", padding=True, **kwargs)
        return batch.to(self.model.device)

    def processor_kwargs(self, with_video: bool) -> dict[str, Any]:
        return {"do_sample_frames": False} if with_video else {}

    def _tokenizer(self):
        return self.processor.tokenizer


@dataclass
class MimicChatAdapter(HFVideoAdapter):
    """MIMIC-Chat through its remote code: 8 spatial + T temporal frames at the config's sizes."""

    kind = "mimic-chat"
    trust_remote_code: bool = True

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.from_config(self.model.config)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "num_frames": None}

    def video_input(self, video: dict[str, Any]) -> Any:
        return {"spatial": video["spatial"], "temporal": video["temporal"]}

    def video_metadata(self, video: dict[str, Any]) -> None:
        return None  # MIMIC-Chat's tower takes frames without times

    def processor_kwargs(self, with_video: bool) -> dict[str, Any]:
        return {}
