"""What some video VLM families need that their config does not say, by `model_type`, checked before the weights load
so that an unmet need fails in one line instead of deep inside a processor, or silently (a default of 24 fps)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


class UnmetNeed(ValueError):
    """A model, or an option, needs what this run does not give it (frames, a package); the CLI prints one line."""


@dataclass(frozen=True)
class Needs:
    min_frames: int = 1
    max_frames: int | None = None
    packages: tuple[str, ...] = ()  # import names; pip names are the same for these
    frame_times: bool = False  # the processor places frames in time from video_metadata (fps, frames_indices)
    why: str = ""


_QWEN3 = Needs(min_frames=2, frame_times=True,
               why="frames go in pairs (temporal patch 2), each pair labelled with its time in the prompt")
KNOWN_NEEDS: dict[str, Needs] = {
    "qwen2_5_vl": Needs(frame_times=True, why="rotary positions in time use seconds per frame pair"),
    "qwen3_vl": _QWEN3,
    "qwen3_vl_moe": _QWEN3,
    "smolvlm": Needs(packages=("num2words",), frame_times=True,
                     why="the prompt names each frame's time and spells the frame count in words"),
    "video_llava": Needs(max_frames=8, why="its video tower was trained on 8 frames per clip, and 16 frames of 257 "
                                           "tokens overflow its 4,096-token context"),
}


def needs_of(model_type: str | None) -> Needs:
    return KNOWN_NEEDS.get(model_type or "", Needs())


def check_needs(label: str, model_type: str | None, num_frames: int) -> Needs:
    """Raise one line naming the model when `num_frames` or the installed packages do not meet its family's needs."""
    needs = needs_of(model_type)
    too_many = needs.max_frames is not None and num_frames > needs.max_frames
    if num_frames < needs.min_frames or too_many:
        allowed = (f"{needs.min_frames}-{needs.max_frames}" if needs.max_frames else f"at least {needs.min_frames}")
        raise UnmetNeed(f"{label} ({model_type}) takes {allowed} frames per video ({needs.why}); "
                         f"got --num-frames {num_frames}")
    missing = [name for name in needs.packages if importlib.util.find_spec(name) is None]
    if missing:
        raise UnmetNeed(f"{label} ({model_type}) needs {', '.join(missing)}, which is not installed "
                          f"(pip install {' '.join(missing)}; {needs.why})")
    return needs
