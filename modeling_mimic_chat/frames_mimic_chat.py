"""The one frame sampler: MIMIC-Chat's spatial frames (segment centres) and temporal frames from ONE decode of a video.

One self-contained file (stdlib, numpy, torch; PyAV or torchcodec imported when used): the project imports it
(training, the evaluation harness, the Space), the model's video processor imports it as a sibling remote-code
file, and `save_pretrained` ships it in the model repo, so every consumer samples by the same rules.

Index rule: for a clip of n frames and k wanted, frame i is `floor((i + 0.5) * n / k)` (segment centres). The temporal
branch takes `temporal` frames, or with `temporal_fps` one frame per 1/fps seconds capped at `temporal` frames.

How it stays fast (PyAV backend, the default):
1. An index pass demuxes packets without decoding (pts, keyframe flag, and for H.264 the `nal_ref_idc` of the first
   slice), so frame index -> presentation timestamp is exact, also for variable frame rate.
2. Only packets that some target needs go to the decoder: GOPs without a target are never sent, a GOP is cut after
   its last target, and non-reference H.264 frames (most B-frames) that are not targets are dropped before decoding.
   Dropping a non-reference picture changes no other picture, so the result equals decoding everything.
3. Only target frames are converted to RGB, resized in swscale on the way (`size`).
4. `threads=2` frame threads fits one video on this 2-core machine; for throughput across many videos run one
   process per core with `threads=1` (perf/sampler.py measures both).

`mode="fast"` snaps every target to the nearest keyframe and decodes only those keyframes (each decodes alone): close
to the keyframe-only floor, but frames are approximate (up to half a GOP away) and temporal frames repeat when the
video has fewer keyframes than `temporal`; the indices/times returned are the frames actually used.
`backend="torchcodec"` uses `torchcodec.decoders.VideoDecoder.get_frames_at` (exact seek) instead.
`cache_dir` enables a content-addressed cache keyed by the file's sha256 and the sampler parameters.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

_H264_SLICE_TYPES = (1, 5)  # non-IDR slice, IDR slice
_CACHE_VERSION = 1
INTERPOLATION = "AREA"  # swscale filter used for resizing (see _Converter)


class VideoDecodeError(Exception):
    """A video that cannot be sampled (missing, empty, truncated, undecodable, no video stream)."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass
class SampledFrames:  # torch is imported lazily: hydration and preflight use this module without it
    spatial: torch.Tensor  # uint8 [S, h, w, 3]
    temporal: torch.Tensor  # uint8 [T, h, w, 3]
    spatial_indices: list[int]
    temporal_indices: list[int]
    spatial_times: list[float]  # seconds (presentation timestamps)
    temporal_times: list[float]
    decoder: str
    num_frames: int = 0
    duration_s: float = 0.0
    frames_decoded: int = field(default=0, compare=False)  # frames the decoder produced (a cost measure, not content)


def segment_centres(n: int, k: int) -> list[int]:
    """Indices of the centres of k equal segments of n frames: floor((i + 0.5) * n / k)."""
    if n <= 0 or k <= 0:
        return []
    return [int((2 * i + 1) * n // (2 * k)) for i in range(k)]


def temporal_count(num_frames: int, duration_s: float, temporal: int, temporal_fps: float | None) -> int:
    """T: `temporal` frames, or one per 1/temporal_fps seconds capped at `temporal` (at least 1)."""
    if temporal_fps is None:
        return temporal
    return max(1, min(temporal, int(round(duration_s * temporal_fps)), num_frames))


@dataclass
class _PacketInfo:
    pts: int
    keyframe: bool
    reference: bool
    order: int  # decode order


@dataclass
class _Index:
    packets: list[_PacketInfo]  # decode order
    pts_sorted: list[int]  # presentation order: frame i has pts_sorted[i]
    time_base: float
    duration_s: float


def _nal_length_size(extradata: bytes | None) -> int | None:
    """AVCC NAL length field size from avcC extradata; None for Annex B or unknown."""
    if extradata and len(extradata) > 4 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def _h264_is_reference(data: bytes, length_size: int) -> bool:
    """nal_ref_idc != 0 of the first slice NAL; True (safe: keep the packet) when it cannot be parsed."""
    pos = 0
    while pos + length_size < len(data):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        header = data[pos + length_size]
        if header & 0x1F in _H264_SLICE_TYPES:
            return (header >> 5) & 3 != 0
        pos += length_size + size
    return True


def _require(module: str):
    """An optional decoder package, imported on first use; a missing one gets an install hint.

    Imported through importlib so that transformers' remote-code check does not demand both decoders up front.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = module.split(".")[0]
        raise ImportError(f"the MIMIC-Chat frame sampler needs {package}: pip install {package}") from err


def _open(path: Path):
    av = _require("av")

    if not path.exists():
        raise VideoDecodeError(path, "missing file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "zero-byte file")
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises several FFmpeg error classes; all mean "not a readable container"
        raise VideoDecodeError(path, f"cannot open: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream")
    return container


def _build_index(container, path: Path) -> _Index:
    stream = container.streams.video[0]
    length_size = _nal_length_size(stream.codec_context.extradata) if stream.codec_context.name == "h264" else None
    packets: list[_PacketInfo] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            reference = True if length_size is None else _h264_is_reference(bytes(packet), length_size)
            packets.append(_PacketInfo(packet.pts, packet.is_keyframe, reference, len(packets)))
    except Exception as exc:  # a demux error means a damaged file
        raise VideoDecodeError(path, f"demux failed: {exc}") from exc
    if not packets:
        raise VideoDecodeError(path, "no video frames")
    if not packets[0].keyframe:
        packets[0].keyframe = True  # a stream must start decoding somewhere; FFmpeg treats it as a recovery point
    time_base = float(stream.time_base)
    pts_sorted = sorted(p.pts for p in packets)
    frame_duration = (pts_sorted[-1] - pts_sorted[0]) / max(1, len(pts_sorted) - 1)
    duration = (pts_sorted[-1] - pts_sorted[0] + frame_duration) * time_base
    return _Index(packets, pts_sorted, time_base, duration)


def _needed_packets(index: _Index, target_pts: set[int]) -> list[int]:
    """Decode-order positions of the packets that the targets need (see module docstring, point 2)."""
    packets = index.packets
    gop_start = []  # decode-order position of the keyframe each packet depends on
    current = 0
    for p in packets:
        if p.keyframe:
            current = p.order
        gop_start.append(current)
    last_target_in_gop: dict[int, int] = {}
    for p in packets:
        if p.pts in target_pts:
            last_target_in_gop[gop_start[p.order]] = p.order
    keyframe_pts = {p.order: p.pts for p in packets if p.keyframe}
    # An open GOP's leading pictures (shown before their keyframe) may reference the previous GOP: keep it whole.
    for start, last in list(last_target_in_gop.items()):
        if any(packets[i].pts < keyframe_pts[start] and packets[i].pts in target_pts for i in range(start, last + 1)):
            previous = gop_start[start - 1] if start > 0 else None
            if previous is not None:
                last_target_in_gop[previous] = max(last_target_in_gop.get(previous, -1), start - 1)
    needed = []
    for p in packets:
        last = last_target_in_gop.get(gop_start[p.order])
        if last is not None and p.order <= last and (p.reference or p.pts in target_pts):
            needed.append(p.order)
    return needed


class _Converter:
    """YUV -> RGB (+ resize) through one swscale context per video: building a context per frame costs more than
    converting. AREA filtering anti-aliases large downscales (1080x1920 -> 224x224) at about the cost of bilinear."""

    def __init__(self, size: tuple[int, int] | None):
        self.size, self.reformatter = size, _require("av.video.reformatter").VideoReformatter()

    def __call__(self, frame) -> np.ndarray:
        h, w = self.size or (frame.height, frame.width)
        return self.reformatter.reformat(frame, width=w, height=h, format="rgb24", interpolation=INTERPOLATION
                                         ).to_ndarray()


def _decode_pyav(path: Path, targets_fn, size, threads: int, mode: str):
    container = _open(path)
    try:
        index = _build_index(container, path)
        spatial_idx, temporal_idx = targets_fn(len(index.pts_sorted), index.duration_s)
        if mode == "fast":
            key_pts = sorted(p.pts for p in index.packets if p.keyframe)
            snap = {}
            for i in set(spatial_idx) | set(temporal_idx):
                pts = index.pts_sorted[i]
                j = bisect.bisect_left(key_pts, pts)
                candidates = [key_pts[c] for c in (j - 1, j) if 0 <= c < len(key_pts)]
                snap[i] = bisect.bisect_left(index.pts_sorted, min(candidates, key=lambda k: (abs(k - pts), k)))
            spatial_idx, temporal_idx = [snap[i] for i in spatial_idx], [snap[i] for i in temporal_idx]
        wanted_pts = {index.pts_sorted[i] for i in set(spatial_idx) | set(temporal_idx)}
        needed = set(_needed_packets(index, wanted_pts)) if mode == "exact" else {
            p.order for p in index.packets if p.pts in wanted_pts}
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.thread_type = "AUTO" if threads > 1 else "SLICE"
        ctx.thread_count = threads
        arrays: dict[int, np.ndarray] = {}
        try:
            decoded = _decode_needed(container, index, needed, wanted_pts, size, arrays)
        except Exception as exc:  # FFmpeg decode errors on damaged data
            raise VideoDecodeError(path, f"decode failed: {exc}") from exc
    finally:
        container.close()
    missing = wanted_pts - arrays.keys()
    if missing:
        raise VideoDecodeError(path, f"{len(missing)} target frames could not be decoded (truncated or damaged)")

    def frames(idx):
        return [arrays[index.pts_sorted[i]] for i in idx], [index.pts_sorted[i] * index.time_base for i in idx]

    return index, spatial_idx, temporal_idx, frames, decoded


def _decode_needed(container, index: _Index, needed: set[int], wanted_pts: set[int], size, arrays: dict,
                   seek: bool = True) -> int:
    """Send the needed packets (by decode-order position) to the decoder; keep wanted frames; return frames decoded."""
    stream = container.streams.video[0]
    ctx = stream.codec_context
    convert = _Converter(size)
    order_of_pts = {p.pts: p.order for p in index.packets}
    first = min(needed)
    # the index pass left the demuxer at the end: always seek (to the first needed keyframe, or back to the start)
    container.seek(index.packets[first].pts if seek else 0, stream=stream, backward=True, any_frame=False)
    decoded, remaining, started = 0, len(needed), False

    def keep(frames) -> int:
        count = 0
        for frame in frames:
            count += 1
            if frame.pts in wanted_pts:
                arrays[frame.pts] = convert(frame)
        return count

    for packet in container.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        position = order_of_pts.get(packet.pts, -1)
        if not started:
            if seek and position > first:  # the seek landed past the first needed packet: read from the start
                return _decode_needed(container, index, needed, wanted_pts, size, arrays, seek=False)
            started = True
        if position not in needed:
            continue
        remaining -= 1
        decoded += keep(ctx.decode(packet))
        if remaining == 0:
            break
    return decoded + keep(ctx.decode(None))


def _stack(arrays: list[np.ndarray], size) -> torch.Tensor:
    import torch

    if not arrays:
        h, w = size or (0, 0)
        return torch.empty((0, h, w, 3), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays))


def _sample_torchcodec(path: Path, targets_fn, size, threads: int) -> SampledFrames:
    video_decoder = _require("torchcodec.decoders").VideoDecoder
    if not path.exists():
        raise VideoDecodeError(path, "missing file")
    transforms = None
    if size is not None:
        transforms = [_require("torchcodec.transforms").Resize(size=tuple(size))]
    try:
        decoder = video_decoder(str(path), seek_mode="exact", num_ffmpeg_threads=threads, dimension_order="NHWC",
                               transforms=transforms)
        meta = decoder.metadata
        n = meta.num_frames
        duration = float(meta.duration_seconds or 0.0)
        spatial_idx, temporal_idx = targets_fn(n, duration)
        union = sorted(set(spatial_idx) | set(temporal_idx))
        batch = decoder.get_frames_at(union)
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError for damaged files
        raise VideoDecodeError(path, f"torchcodec: {exc}") from exc
    data = batch.data
    row = {i: k for k, i in enumerate(union)}
    times = batch.pts_seconds.tolist()
    return SampledFrames(
        spatial=data[[row[i] for i in spatial_idx]], temporal=data[[row[i] for i in temporal_idx]],
        spatial_indices=spatial_idx, temporal_indices=temporal_idx,
        spatial_times=[times[row[i]] for i in spatial_idx], temporal_times=[times[row[i]] for i in temporal_idx],
        decoder="torchcodec-exact", num_frames=n, duration_s=duration, frames_decoded=-1)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _cache_path(cache_dir: Path, sha: str, params: dict) -> Path:
    key = hashlib.sha256(json.dumps({"sha256": sha, "v": _CACHE_VERSION, **params}, sort_keys=True).encode())
    return cache_dir / key.hexdigest()[:2] / f"{key.hexdigest()}.npz"


def _cache_load(path: Path) -> SampledFrames | None:
    import torch

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return SampledFrames(spatial=torch.from_numpy(z["spatial"].copy()),
                                 temporal=torch.from_numpy(z["temporal"].copy()), **meta)
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is recomputed, never trusted


def _cache_store(path: Path, frames: SampledFrames) -> None:
    meta = {k: getattr(frames, k) for k in ("spatial_indices", "temporal_indices", "spatial_times", "temporal_times",
                                             "decoder", "num_frames", "duration_s", "frames_decoded")}
    buffer = io.BytesIO()
    np.savez(buffer, spatial=frames.spatial.numpy(), temporal=frames.temporal.numpy(), meta=np.array(json.dumps(meta)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:  # write, then rename
        tmp.write(buffer.getvalue())
    os.replace(tmp.name, path)


def sample_frames(path: str | os.PathLike, *, spatial: int = 8, temporal: int = 32,
                  size: tuple[int, int] | None = None, mode: str = "exact", temporal_fps: float | None = None,
                  backend: str = "pyav", threads: int = 2, cache_dir: str | os.PathLike | None = None,
                  video_sha256: str | None = None) -> SampledFrames:
    """Sample `spatial` segment-centre frames and the temporal frames of one video with one decode (see module doc).

    size: (h, w) to resize to, or None for the native size. mode: "exact" (default) or "fast" (keyframe-snapped).
    Raises VideoDecodeError(path, reason) for a missing, empty, truncated or undecodable file.
    """
    if mode not in ("exact", "fast"):
        raise ValueError(f"mode must be 'exact' or 'fast', not {mode!r}")
    if backend not in ("pyav", "torchcodec"):
        raise ValueError(f"backend must be 'pyav' or 'torchcodec', not {backend!r}")
    if backend == "torchcodec" and mode == "fast":
        raise ValueError("mode='fast' is implemented by the pyav backend only")
    path = Path(path)
    size = tuple(size) if size is not None else None
    cache_file = None
    if cache_dir is not None:
        if not path.exists():
            raise VideoDecodeError(path, "missing file")
        params = {"spatial": spatial, "temporal": temporal, "size": size, "mode": mode, "temporal_fps": temporal_fps,
                  "backend": backend}
        cache_file = _cache_path(Path(cache_dir), video_sha256 or _sha256(path), params)
        if cache_file.exists() and (cached := _cache_load(cache_file)) is not None:
            return cached

    def targets(n: int, duration: float) -> tuple[list[int], list[int]]:
        return segment_centres(n, spatial), segment_centres(n, temporal_count(n, duration, temporal, temporal_fps))

    if backend == "torchcodec":
        result = _sample_torchcodec(path, targets, size, threads)
    else:
        index, spatial_idx, temporal_idx, frames, decoded = _decode_pyav(path, targets, size, threads, mode)
        spatial_arrays, spatial_times = frames(spatial_idx)
        temporal_arrays, temporal_times = frames(temporal_idx)
        result = SampledFrames(
            spatial=_stack(spatial_arrays, size), temporal=_stack(temporal_arrays, size),
            spatial_indices=spatial_idx, temporal_indices=temporal_idx, spatial_times=spatial_times,
            temporal_times=temporal_times, decoder=f"pyav-{mode}", num_frames=len(index.pts_sorted),
            duration_s=index.duration_s, frames_decoded=decoded)
    if cache_file is not None:
        _cache_store(cache_file, result)
    return result


@dataclass(frozen=True)
class FramePolicy:
    """What a model is shown of a video; part of every evaluation sample's frames fingerprint.

    Args:
        spatial (`int`, defaults to 8): segment-centre frames for the spatial branch.
        temporal (`int`, defaults to 32): frames for the temporal branch.
        size (`tuple[int, int]`, *optional*): (height, width) the decoder resizes to; `None` keeps the native size.
        mode (`str`, defaults to `"exact"`): `"exact"` or `"fast"` (keyframe-snapped), see `sample_frames`.

    Example:

    ```python
    >>> policy = FramePolicy.from_config(model.config)  # MIMIC-Chat's frame counts at its tower's input side
    >>> frames = policy.sample("video.mp4")  # SampledFrames: .spatial [8, h, w, 3], .temporal [T, h, w, 3]
    ```
    """

    spatial: int = 8
    temporal: int = 32
    size: tuple[int, int] | None = None
    mode: str = "exact"

    @classmethod
    def from_config(cls, config) -> FramePolicy:
        """The frames a MIMIC-Chat config asks for: its spatial/temporal counts, square at the vision tower's side."""
        side = config.vision_config.image_size
        return cls(spatial=config.spatial_num_frames, temporal=config.temporal_num_frames, size=(side, side))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "size": list(self.size) if self.size else None}

    def sample(self, path: str | os.PathLike, threads: int = 1, **options) -> SampledFrames:
        """`sample_frames` under this policy; `options` pass through (backend, cache_dir, ...)."""
        return sample_frames(path, spatial=self.spatial, temporal=self.temporal, size=self.size, mode=self.mode,
                             threads=threads, **options)


@dataclass
class VideoInfo:
    width: int
    height: int
    num_frames: int
    duration_s: float


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open and index a video without decoding a picture; VideoDecodeError(path, reason) when it is not a video."""
    path = Path(path)
    container = _open(path)
    try:
        index = _build_index(container, path)
        context = container.streams.video[0].codec_context
        return VideoInfo(context.width, context.height, len(index.pts_sorted), index.duration_s)
    finally:
        container.close()
