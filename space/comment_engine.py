"""The Space's model side: check an uploaded video, sample its frames, and let MIMIC-Chat write comments.

Kept free of Gradio so the release can pre-compute the "Human or AI?" rounds with the same code the Space runs. Frames
come from the model's own sampler file (`frames_mimic_chat.py`, copied into the Space folder by `mimic release`); the
comment prompt per platform is rendered at release time by the bench's prompt renderer and read from rounds.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from dataclasses import dataclass
from pathlib import Path

try:  # the Space folder's copy of the model's frame sampler
    import frames_mimic_chat as frames
except ModuleNotFoundError:  # a checkout: the original
    from modeling_mimic_chat import frames_mimic_chat as frames

# Serving limits (the Space card quotes them).
MAX_UPLOAD_MB = 40
MAX_DURATION_S = 90.0
CONCURRENCY_LIMIT = 1  # one generation at a time per worker: a CPU Space has no room for more
QUEUE_SIZE = 16
MAX_NEW_TOKENS = 48
MIN_NEW_TOKENS = 3  # a comment is never empty


class UserFacingError(Exception):
    """A problem the visitor can fix; its message is shown in the UI as is."""


@dataclass
class VideoCheck:
    duration_s: float
    width: int  # as displayed: the display matrix's rotation is applied (a phone's portrait video is portrait)
    height: int
    rotation: int = 0


def check_video(path: str | os.PathLike | None, max_mb: float = MAX_UPLOAD_MB,
                max_duration_s: float = MAX_DURATION_S) -> VideoCheck:
    """Size cap, then the sampler's probe (open + index + first frame); UserFacingError for what we refuse."""
    if not path:
        raise UserFacingError("Please upload a video or pick one of the examples first.")
    path = Path(path)
    if not path.is_file():
        raise UserFacingError("The uploaded file could not be found on the server; please upload it again.")
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        raise UserFacingError(f"This file is {size_mb:.0f} MB; the Space accepts videos up to {max_mb:.0f} MB.")
    try:
        info = frames.probe(path)
    except frames.VideoDecodeError as err:
        if err.kind == "audio_only":
            raise UserFacingError("This file has no picture. Please upload a video (mp4, webm, mov).") from None
        raise UserFacingError("This file is not a readable video (corrupt, truncated or not a video). "
                              "Please upload an mp4, webm or mov file.") from None
    if info.duration_s > max_duration_s:
        raise UserFacingError(f"This video is {info.duration_s:.0f} s long; the Space accepts videos up to "
                              f"{max_duration_s:.0f} s.")
    return VideoCheck(duration_s=info.duration_s, width=info.width, height=info.height, rotation=info.rotation)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with n torch CPU threads, restored after (None: leave torch's choice). On oversubscribed cores one thread
    is many times faster than two for a small model."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class CommentEngine:
    """MIMIC-Chat loaded once (lazily, thread-safe) from a local folder or a Hub id; `threads` for generation."""

    def __init__(self, model_path: str | None, threads: int | None = None):
        self.model_path = model_path
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded = None
        self.load_error: str | None = None

    def load(self):
        """(model, processor), or raise UserFacingError with the reason the model is unavailable."""
        with self._lock:
            if self._loaded is None and self.load_error is None:
                self._loaded, self.load_error = _load(self.model_path)
        if self.load_error:
            raise UserFacingError(self.load_error)
        return self._loaded

    def sample(self, video_path: str | os.PathLike):
        """The frames MIMIC-Chat sees (its frame policy at native size, upright; the processor resizes)."""
        model, _ = self.load()
        policy = dataclasses.replace(frames.FramePolicy.from_config(model.config), size=None)
        try:
            return policy.sample(video_path, threads=1)
        except frames.VideoDecodeError as err:
            raise UserFacingError(f"This video could not be decoded ({err.reason}). Please try another file.") from None

    def generate(self, sampled, prompt: str, n: int, temperature: float, top_p: float, seed: int) -> list[str]:
        """n sampled comments for one video; the same seed and settings give the same comments."""
        import torch

        model, processor = self.load()
        messages = [{"role": "user", "content": [{"type": "video"},
                                                 {"type": "text", "text": prompt}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        batch = processor(text=[text], videos=[{"spatial": sampled.spatial, "temporal": sampled.temporal}])
        torch.manual_seed(int(seed))
        with torch.no_grad(), torch_threads(self.threads):
            output = model.generate(**batch, do_sample=True, temperature=float(temperature), top_p=float(top_p),
                                    num_return_sequences=int(n), max_new_tokens=MAX_NEW_TOKENS,
                                    min_new_tokens=MIN_NEW_TOKENS)
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        return [comment.strip() for comment in processor.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def _load(model_path: str | None):
    """((model, processor), None) or (None, a message for the UI)."""
    if not model_path:
        return None, ("No model is configured: set the MIMIC_CHAT_MODEL environment variable to a MIMIC-Chat folder "
                      "or Hub id and restart the Space.")
    try:
        from transformers import AutoModel, AutoProcessor

        model = AutoModel.from_pretrained(model_path, trust_remote_code=True).eval()
        processor = AutoProcessor.from_pretrained(model_path, trust_remote_code=True)
    except Exception as err:  # shown in the UI instead of crashing the Space
        return None, f"The model {model_path!r} could not be loaded ({type(err).__name__}: {err})."
    return (model, processor), None
