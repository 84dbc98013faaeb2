"""OpenAI-compatible chat-completions endpoints (vLLM, SGLang, hosted APIs).

Two video forms: "frames" sends the sampled frames as JPEG `image_url` parts (any vision chat API); "video_url" sends
one `video_url` part holding an H.264 mp4 of the same frames at their sampled rate (vLLM/SGLang video models, whose
processors then see one video with its times), inline as a data URL or, with `media_dir`, as a file:// URL into a
folder the server may read (`vllm serve --allowed-local-media-path`). Either way the harness's frame policy and
conditions (blank, single_frame) hold: the server never samples the original file itself.

Requests of a batch run concurrently in one bounded thread pool (`batch_size` at a time); each has a socket timeout
and is retried with exponential backoff (or the server's Retry-After) on timeouts, lost connections, 408/409/429/5xx.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from modeling_mimic_chat.frames_mimic_chat import FramePolicy

from .base import Adapter, GenerationSettings, McqAnswer, McqRequest

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
VIDEO_FORMS = ("frames", "video_url")
MAX_RETRY_AFTER_S = 60.0


class ApiError(RuntimeError):
    pass


def jpeg_data_url(frame: torch.Tensor, quality: int = 90) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame.numpy()).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def frames_fps(video: dict[str, Any], name: str = "spatial") -> float:
    """The rate at which the sampled frames stand for the clip: count / duration (frames sit at the centres of equal
    time slices), so a server that reads times from the container's rate gets the sampler's times. 1 fps without times."""
    times = video.get("times")
    if not times or times["duration_s"] <= 0:
        return 1.0
    return len(times[name]) / times["duration_s"]


def mp4_bytes(frames: torch.Tensor, fps: float) -> bytes:
    from mimic_data.render import write_mp4

    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2  # yuv420p needs even sizes
    with tempfile.TemporaryDirectory(prefix="mimic-video-") as scratch:
        path = write_mp4(frames[:, :height, :width].numpy(), Path(scratch) / "clip.mp4", fps=fps)
        return path.read_bytes()


@dataclass
class OpenAIChatAdapter(Adapter):
    """POSTs {base_url}/chat/completions; `batch_size` requests run concurrently; retries with backoff."""

    kind = "openai"
    base_url: str = "http://127.0.0.1:8000/v1"
    model_id: str = "model"
    num_frames: int = 8
    frame_size: tuple[int, int] | None = None
    video_form: str = "frames"  # see VIDEO_FORMS and the module docstring
    media_dir: str | None = None  # video_url form: write mp4s here and send file:// URLs (the server must see it)
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 120.0  # per attempt: connect and each read of the reply
    max_retries: int = 4
    backoff_s: float = 1.0
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self):
        if self.video_form not in VIDEO_FORMS:
            raise ValueError(f"video_form must be one of {', '.join(VIDEO_FORMS)}, not {self.video_form!r}")
        if self.media_dir and self.video_form != "video_url":
            raise ValueError("--media-dir holds mp4s for --video-form video_url; it means nothing for frames")

    def frame_policy(self) -> FramePolicy:
        return FramePolicy(spatial=self.num_frames, temporal=self.num_frames, size=self.frame_size)

    def identity(self) -> dict[str, Any]:
        identity = {"kind": self.kind, "base_url": self.base_url, "model": self.model_id, "num_frames": self.num_frames}
        if self.video_form != "frames":  # recorded only when not the default, so older run caches stay valid
            identity["video_form"] = self.video_form
        return identity

    def _video_url(self, video: dict[str, Any]) -> str:
        frames, fps = video["spatial"], frames_fps(video)
        data = mp4_bytes(frames, fps)
        if not self.media_dir:
            return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")
        from mimic_data.io import atomic_write_bytes

        # named by content (x264 output is deterministic), so a rerun with the same frames reuses the file
        path = Path(self.media_dir).resolve() / f"{hashlib.sha256(data).hexdigest()[:24]}.mp4"
        if not path.exists():
            atomic_write_bytes(path, data)
        return path.as_uri()

    def _content(self, request: McqRequest) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if request.video is not None and self.video_form == "frames":
            content += [{"type": "image_url", "image_url": {"url": jpeg_data_url(frame)}}
                        for frame in request.video["spatial"]]
        elif request.video is not None:
            content.append({"type": "video_url", "video_url": {"url": self._video_url(request.video)}})
        return content + [{"type": "text", "text": request.prompt}]

    def _payload(self, request: McqRequest, settings: GenerationSettings) -> dict[str, Any]:
        payload = {"model": self.model_id, "messages": [{"role": "user", "content": self._content(request)}],
                   "max_tokens": settings.max_new_tokens, "seed": settings.seed,
                   "temperature": settings.temperature if settings.do_sample else 0.0}
        if settings.do_sample:
            payload["top_p"] = settings.top_p
        return payload

    def _wait_s(self, attempt: int, retry_after: str | None) -> float:
        """The server's Retry-After (seconds, capped) when it sends one, else backoff_s * 2**attempt."""
        try:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(retry_after)))
        except (TypeError, ValueError):
            return self.backoff_s * 2**attempt

    def _post(self, payload: dict[str, Any]) -> str:
        headers = {"Content-Type": "application/json"}
        if os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        body = json.dumps(payload).encode()
        url = self.base_url.rstrip("/") + "/chat/completions"
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                http_request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(http_request, timeout=self.timeout_s) as response:
                    reply = json.loads(response.read())
                return reply["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}: {error.read()[:200].decode(errors='replace')}"
                retry_after = error.headers.get("Retry-After") if error.headers else None
                if error.code not in RETRYABLE_STATUS:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                last = f"{type(error).__name__}: {error}"
            except (KeyError, IndexError, json.JSONDecodeError) as error:
                last = f"malformed reply: {error!r}"
                break
            if attempt < self.max_retries:
                time.sleep(self._wait_s(attempt, retry_after))
        raise ApiError(f"{url} ({self.model_id}) failed after {attempt + 1} attempt(s): {last}")

    def _executor(self) -> ThreadPoolExecutor:
        """One pool for the adapter's life: at most `batch_size` requests in flight, whoever calls."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=max(1, self.batch_size), thread_name_prefix="mimic-api")
            return self._pool

    def _run(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        return list(self._executor().map(lambda r: self._post(self._payload(r, settings)), requests))

    def answer(self, requests: list[McqRequest]) -> list[McqAnswer]:
        return [McqAnswer(response=text) for text in self._run(requests, self.settings)]

    def generate(self, requests: list[McqRequest], settings: GenerationSettings) -> list[str]:
        return [text.strip() for text in self._run(requests, settings)]
