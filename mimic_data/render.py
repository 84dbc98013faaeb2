"""Render synthetic-world videos (H.264 mp4 through PyAV) from their content spec: scene background, one coloured object,
two motions in order. Rendering is per video and deterministic, so only the videos a job needs are ever rendered."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .world import CATEGORIES, COLOURS

_GLOW = np.array((255, 255, 255), dtype=np.float32)
_SCENES = {name: (np.array(rgb, dtype=np.float32), pattern) for name, _, rgb, pattern in CATEGORIES}


def _background(scene: str, h: int, w: int) -> np.ndarray:
    rgb, pattern = _SCENES[scene]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    unit = max(4.0, min(h, w) / 6)
    masks = {
        "stripes_v": (x // unit) % 2,
        "stripes_h": (y // unit) % 2,
        "checker": ((x // unit) + (y // unit)) % 2,
        "dots": (((x % unit) - unit / 2) ** 2 + ((y % unit) - unit / 2) ** 2 < (unit / 4) ** 2),
        "gradient": y / h,
        "diagonal": ((x + y) // unit) % 2,
        "grid": ((x % unit) < 1.5) | ((y % unit) < 1.5),
        "plain": np.zeros_like(x),
    }
    shade = masks[pattern].astype(np.float32)[..., None]
    return rgb * (0.75 + 0.5 * shade)


def _object_mask(shape: str, h: int, w: int, cx: float, cy: float, size: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = np.abs(x - cx), np.abs(y - cy)
    r = size / 2
    if shape == "ball":
        return dx**2 + dy**2 <= r**2
    if shape == "box":
        return (dx <= r) & (dy <= r)
    if shape == "kite":
        return (y - cy >= -r) & (y - cy <= r) & (dx <= (y - cy + r) / 2)
    if shape == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if shape == "cross":
        return ((dx <= r / 3) & (dy <= r)) | ((dy <= r / 3) & (dx <= r))
    if shape == "bar":
        return (dx <= r * 1.2) & (dy <= r / 3)
    raise ValueError(f"unknown shape {shape!r}")


def _pose(motion: str, t: float) -> tuple[float, float, float]:
    """Offset (dx, dy) in units of the frame's short side and a size factor, for progress t in [0, 1]."""
    return {
        "right": (-0.3 + 0.6 * t, 0.0, 1.0),
        "left": (0.3 - 0.6 * t, 0.0, 1.0),
        "up": (0.0, 0.3 - 0.6 * t, 1.0),
        "down": (0.0, -0.3 + 0.6 * t, 1.0),
        "grow": (0.0, 0.0, 0.5 + 1.0 * t),
        "shrink": (0.0, 0.0, 1.5 - 1.0 * t),
    }[motion]


def render_frames(spec: dict) -> np.ndarray:
    """uint8 [n, h, w, 3] frames of one video: motion1 over the first half, motion2 over the second; the highlighted
    motion's half shows a white glow around the object."""
    w, h, fps = int(spec["width"]), int(spec["height"]), int(spec["fps"])
    n = int(round(float(spec["duration_s"]) * fps))
    rng = np.random.default_rng(_seed(spec["video_id"]))
    base = _background(spec["scene"], h, w)
    colour = np.array(COLOURS[spec["colour"]], dtype=np.float32)
    short = min(h, w)
    frames = np.empty((n, h, w, 3), dtype=np.uint8)
    for k in range(n):
        first = k < n / 2
        t = (k / max(1, n / 2 - 1)) if first else ((k - n / 2) / max(1, n / 2 - 1))
        ox, oy, scale = _pose(spec["motion1"] if first else spec["motion2"], min(1.0, t))
        cx, cy, size = w / 2 + ox * short, h / 2 + oy * short, 0.28 * short * scale
        frame = base + rng.normal(0, 6, (h, w, 1)).astype(np.float32)
        if spec["highlight"] == (1 if first else 2):  # the highlighted motion: a white glow around the object
            frame[_object_mask("ball", h, w, cx, cy, 1.6 * size)] = _GLOW
        frame[_object_mask(spec["shape"], h, w, cx, cy, size)] = colour
        frames[k] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def _seed(video_id: str) -> int:
    return int.from_bytes(video_id.encode()[:8].ljust(8, b"\0"), "little") % 2**32


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: float, crf: int = 23) -> Path:
    """Encode uint8 RGB frames as H.264 (yuv420p) mp4, via a temp file and rename. `fps` may be fractional (sampled
    frames re-encoded at their sampled rate keep their times); even frame sizes (yuv420p)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        # mb-tree's lookahead made PyAV's x264 encode the same frames differently from run to run (tests/test_world.py)
        stream.options = {"crf": str(crf), "preset": "veryfast", "g": str(max(1, round(2 * fps))),
                          "x264-params": "mbtree=0:rc-lookahead=0"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, path)
    return path


def render_video(spec: dict, path: str | os.PathLike) -> Path:
    return write_mp4(render_frames(spec), path, int(spec["fps"]))


def video_relpath(platform: str, video_id: str) -> str:
    """The one on-disk layout for videos, shared by rendering, hydration and the dataset folders."""
    return f"videos/{platform}/{video_id[:2]}/{video_id}.mp4"


