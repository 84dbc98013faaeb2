"""OpenAI-compatible chat-completions endpoints (vLLM, SGLang, hosted APIs): frames go as JPEG data URLs."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy

from .base import Adapter, GenerationSettings, McqAnswer, McqRequest

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ApiError(RuntimeError):
    pass


def jpeg_data_url(frame: torch.Tensor, quality: int = 90) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame.numpy()).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class OpenAIChatAdapter(Adapter):
    """POSTs {base_url}/chat/completions; `batch_size` requests run concurrently; retries with backoff."""

    kind = "openai"
    base_url: str = "http://127.0.0.1:8000/v1"
    model_id: str = "model"
    num_frames: int = 8
    frame_size: tuple[int, int] | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0

    def frame_policy(self) -> FramePolicy:
        return FramePolicy(spatial=self.num_frames, temporal=self.num_frames, size=self.frame_size)

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "base_url": self.base_url, "model": self.model_id, "num_frames": self.num_frames}

    def _payload(self, request: McqRequest, settings: GenerationSettings) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if request.video is not None:
            content += [{"type": "image_url", "image_url": {"url": jpeg_data_url(frame)}}
                        for frame in request.video["spatial"]]
        content.append({"type": "text", "text": request.prompt})
        payload = {"model": self.model_id, "messages": [{"role": "user", "content": content}],
                   "max_tokens": settings.max_new_tokens, "seed": settings.seed,
                   "temperature": settings.temperature if settings.do_sample else 0.0}
        if settings.do_sample:
            payload["top_p"] = settings.top_p
        return payload

    def _post(self, payload: dict[str, Any]) -> str:
        headers = {"Content-Type": "application/json"}
        if os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        body = json.dumps(payload).encode()
        url = self.base_url.rstrip("/") + "/chat/completions"
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            try:
                http_request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                    reply = json.loads(response.read())
                return reply["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read()[:200].decode(errors='replace')}"
                if error.code not in RETRYABLE_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last = f"{type(error).__name__}: {error}"
            except (KeyError, IndexError, json.JSONDecodeError) as error:
                last = f"malformed reply: {error!r}"
                break
            if attempt < self.max_retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise ApiError(f"{url} ({self.model_id}) failed: {last}")

    def _run(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        with ThreadPoolExecutor(max_workers=max(1, self.batch_size)) as pool:
            return list(pool.map(lambda r: self._post(self._payload(r, settings)), requests))

    def answer(self, requests: list[McqRequest]) -> list[McqAnswer]:
        return [McqAnswer(response=text) for text in self._run(requests, self.settings)]

    def generate(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        return [text.strip() for text in self._run(requests, settings)]
