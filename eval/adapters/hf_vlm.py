"""Transformers-native video VLMs (AutoModelForImageTextToText + AutoProcessor chat templates): Qwen2/2.5/3-VL,
LLaVA-OneVision, LLaVA-NeXT-Video, Video-LLaVA, SmolVLM, InternVL, ...; MIMIC-Chat reuses this adapter with its own
video format. Placement (one device per rank, or sharded by device_map), dtype and quantization: placement.py; what a
family needs (frame counts, frame times, packages): known_needs.py."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from modeling_mimic_chat.frames_mimic_chat import FramePolicy

from ..harness.fingerprint import folder_weights_fingerprint
from .base import Adapter, LocalModelAnswers, McqRequest, letter_token_ids
from .known_needs import Needs, check_needs
from .placement import load_kwargs


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
    device_map: str | None = None  # "auto"/"balanced": shard over this rank's GPUs; None: whole on this rank's device
    max_memory: dict[int | str, str] | None = None  # per-device budget for device_map, e.g. {0: "70GiB", "cpu": ...}
    quantization: str | None = None  # "4bit" / "8bit" through bitsandbytes
    model: Any = None
    processor: Any = None
    needs: Needs = field(default_factory=Needs, init=False)  # set from the family (known_needs.py)

    def __post_init__(self):
        self.needs = check_needs(f"{self.kind}:{self.path}", self._model_type(), self.num_frames)
        if self.model is None:
            self.model, self.processor = self._load()
        self.processor.tokenizer.padding_side = "left"  # last position = next token for every row of a batch
        self.model.eval()
        self._letter_ids = letter_token_ids(self.processor.tokenizer) if self.scoring == "likelihood" else None

    def _model_type(self) -> str | None:
        """The family, read from the config alone so that an unmet need fails before gigabytes of weights load."""
        if self.model is not None:
            return self.model.config.model_type
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self.path, trust_remote_code=self.trust_remote_code,
                                          revision=self.revision).model_type

    def _load(self):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        kwargs = {"trust_remote_code": self.trust_remote_code, "revision": self.revision}
        processor = AutoProcessor.from_pretrained(self.path, **kwargs)
        model = AutoModelForImageTextToText.from_pretrained(
            self.path, **kwargs, **load_kwargs(dtype=self.dtype, attn_implementation=self.attn_implementation,
                                               device_map=self.device_map, max_memory=self.max_memory,
                                               quantization=self.quantization))
        return model, processor

    def frame_policy(self) -> FramePolicy:
        return FramePolicy(spatial=8, temporal=self.num_frames, size=self.frame_size)

    def identity(self) -> dict[str, Any]:
        weights = folder_weights_fingerprint(self.path) if self.path and os.path.isdir(self.path) else None
        return {"kind": self.kind, "name": self.name, "path": str(self.path), "revision": self.revision,
                "class": type(self.model).__name__, "weights": weights, "scoring": self.scoring,
                "num_frames": self.num_frames,
                # precision, quantization and kernels change results; recorded only when set, so older run caches
                # stay valid. Placement (device_map, max_memory) does not change them and is left out.
                **{key: value for key, value in (("dtype", self.dtype), ("attn_implementation",
                                                                         self.attn_implementation),
                                                 ("quantization", self.quantization)) if value}}

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
                if self.needs.frame_times and metadata[-1] is None:
                    raise ValueError(f"{self.kind}:{self.path} places frames in time ({self.needs.why}) but this video "
                                     "carries no frame times; decode it with the harness's sampler")
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
