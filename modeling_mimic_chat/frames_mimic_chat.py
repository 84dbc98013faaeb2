"""The one frame sampler: MIMIC-Chat's spatial and temporal frames from ONE decode of a video, in display orientation.

One self-contained file (stdlib, numpy, torch; PyAV or torchcodec imported when used): the project imports it
(training, the evaluation harness, the Space), the model's video processor imports it as a sibling remote-code
file, and `save_pretrained` ships it in the model repo, so every consumer samples by the same rules.

Time rule: a video's time runs from its first frame (any stream start offset, e.g. MPEG-TS's, is removed) to the end
of its last frame. For k wanted frames the targets are the centres of k equal time segments, and each target takes
the frame shown at that moment (`segment_centre_frames`); every returned frame carries its time. Variable-frame-rate
clips are thus sampled uniformly in time. A constant-frame-rate stream (every timestamp within one tick of a regular
grid: containers round times to whole ticks, e.g. milliseconds in webm/mkv) is timed on that grid, where the picks
are exactly the index rule `floor((i + 0.5) * n / k)` (`segment_centres`, also used for already-decoded arrays). The temporal branch takes
`temporal` frames, or with `temporal_fps` one frame per 1/fps seconds capped at `temporal` frames.

Orientation: the display matrix (phone rotation, mirroring) is applied to every frame by both backends, exactly as
FFmpeg's autorotate shows the video; `SampledFrames.rotation` / `.mirrored` record what was applied.

Honesty: a clip with fewer frames than wanted (a 0.2 s clip, one frame, `mode="fast"` on few keyframes) repeats
frames; `SampledFrames.distinct_frames`, `.repeated_indices` and `.shortfall()` say so.

How it stays fast (PyAV backend, the default):
1. An index pass demuxes packets without decoding (pts, keyframe flag, and for H.264 the `nal_ref_idc` of the first
   slice), so frame index -> presentation timestamp is exact, also for variable frame rate.
2. Only packets that some target needs go to the decoder: GOPs without a target are never sent, a GOP is cut after
   its last target, and non-reference H.264 frames (most B-frames) that are not targets are dropped before decoding.
   Dropping a non-reference picture changes no other picture, so the result equals decoding everything. Where
   reference packets were skipped, the decoder restarts at the next keyframe as after a seek (`_entry_chunks`).
3. Only target frames are converted to RGB, resized in swscale on the way (`size`, in display orientation).
4. `threads=N` splits the needed packets into up to N runs of whole chunks, balanced, each decoded by its own
   single-threaded decoder in its own thread (FFmpeg releases the GIL; chunks are independent, so this scales where
   FFmpeg's frame threads wait on chains of P-frames); with fewer chunks than threads each decoder gets FFmpeg
   threads. For throughput across many videos run one process per core with `threads=1` (perf/sampler.py measures
   both).

`mode="fast"` snaps every target to the nearest keyframe and decodes only those keyframes (each decodes alone): close
to the keyframe-only floor, but frames are approximate (up to half a GOP away) and temporal frames repeat when the
video has fewer keyframes than `temporal`; the indices/times returned are the frames actually used.
`backend="torchcodec"` decodes the same frames with `torchcodec.decoders.VideoDecoder.get_frames_at` (exact seek);
the index and the display matrix still come from PyAV, so both backends pick the same frames and orient them alike.
A video is a local path or its bytes (URLs are not fetched). `cache_dir` enables a content-addressed cache keyed by
the file's sha256 and the sampler parameters.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib
import io
import json
import math
import os
import struct
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

VideoSource = str | os.PathLike | bytes  # a local file, or its bytes

_H264_SLICE_TYPES = (1, 5)  # non-IDR slice, IDR slice
_CACHE_VERSION = 2  # 2: time-based targets, times from the first frame, display orientation, start offset
INTERPOLATION = "AREA"  # swscale filter used for resizing (see _Converter)
_VFR_SPREAD = 0.05  # frame-duration spread (relative to the mean) above which a stream counts as variable frame rate
# FFmpeg opens these as a "video" too, but they are text or still images, not recordings
_NOT_VIDEO_FORMATS = ("tty", "image2", "txt")


class VideoDecodeError(Exception):
    """A video that cannot be sampled. `kind` names the problem for reports: missing, empty, unreadable (no readable
    container), audio_only, no_video, truncated (frames on disk end early or do not decode), undecodable."""

    def __init__(self, path, reason: str, kind: str = "undecodable"):
        self.path, self.reason, self.kind = str(path), reason, kind
        super().__init__(f"{path}: {reason}")


@dataclass
class SampledFrames:  # torch is imported lazily: hydration and preflight use this module without it
    spatial: torch.Tensor  # uint8 [S, h, w, 3], display orientation
    temporal: torch.Tensor  # uint8 [T, h, w, 3]
    spatial_indices: list[int]  # frame numbers in presentation order
    temporal_indices: list[int]
    spatial_times: list[float]  # seconds from the first frame (presentation time minus start_offset_s)
    temporal_times: list[float]
    decoder: str
    num_frames: int = 0
    duration_s: float = 0.0  # first frame's start to last frame's end
    rotation: int = 0  # display rotation applied, degrees counter-clockwise (0, 90, 180, 270)
    mirrored: bool = False  # the display matrix also mirrors (applied left-right after the rotation)
    start_offset_s: float = 0.0  # presentation time of the first frame in the file (MPEG-TS streams start late)
    frames_decoded: int = field(default=0, compare=False)  # frames the decoder produced (a cost measure, not content)

    @property
    def distinct_frames(self) -> int:
        """How many different frames of the video the sample holds (both branches together)."""
        return len(set(self.spatial_indices) | set(self.temporal_indices))

    @property
    def repeated_indices(self) -> list[int]:
        """Frames that stand more than once in the spatial or in the temporal branch (short clip, or fast mode)."""
        repeated: set[int] = set()
        for indices in (self.spatial_indices, self.temporal_indices):
            seen: set[int] = set()
            for index in indices:
                (repeated if index in seen else seen).add(index)
        return sorted(repeated)

    def shortfall(self) -> str | None:
        """In words, when the frames repeat (the clip holds fewer frames than wanted); None when none repeats."""
        repeated = self.repeated_indices
        if not repeated:
            return None
        if self.decoder.endswith("-fast"):
            cause = "fast mode keeps keyframes only"
        else:
            cause = f"the clip is {self.duration_s:.2f} s, {self.num_frames} frame{'s' * (self.num_frames != 1)}"
        shown = ", ".join(map(str, repeated[:8])) + (", ..." if len(repeated) > 8 else "")
        return (f"only {self.distinct_frames} distinct frame{'s' * (self.distinct_frames != 1)} for "
                f"{len(self.spatial_indices)} spatial + {len(self.temporal_indices)} temporal ({cause}); "
                f"repeated: frame{'s' * (len(repeated) != 1)} {shown}")


def segment_centres(n: int, k: int) -> list[int]:
    """Indices of the centres of k equal segments of n frames: floor((i + 0.5) * n / k). For decoded arrays, whose
    frames carry no times; on a constant-frame-rate file it equals `segment_centre_frames`."""
    if n <= 0 or k <= 0:
        return []
    return [int((2 * i + 1) * n // (2 * k)) for i in range(k)]


def segment_centre_frames(starts: list[int], end: Fraction | int, k: int) -> list[int]:
    """The frames shown at the centres of k equal time segments of [0, end).

    starts: each frame's start time in presentation order, in integer ticks from the first frame (starts[0] == 0);
    end: the end of the last frame in the same ticks. A frame is shown from its start until the next frame's start,
    so a centre exactly on a boundary takes the later frame (exact rational arithmetic: no float noise decides).
    """
    if not starts or k <= 0:
        return []
    picks = []
    for i in range(k):
        latest_start = math.floor(Fraction(2 * i + 1, 2 * k) * end)
        picks.append(max(0, bisect.bisect_right(starts, latest_start) - 1))
    return picks


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
    time_base: Fraction
    end_pts: Fraction  # end of the last frame: its start + the mean frame duration
    regular: bool  # every timestamp within one tick of a constant-rate grid (see the module docstring)
    variable_frame_rate: bool  # frame durations spread more than _VFR_SPREAD (a fact for reports)

    @property
    def duration_s(self) -> float:
        return float((self.end_pts - self.pts_sorted[0]) * self.time_base)

    @property
    def start_offset_s(self) -> float:
        return float(self.pts_sorted[0] * self.time_base)

    def time_of(self, frame: int) -> float:
        return float((self.pts_sorted[frame] - self.pts_sorted[0]) * self.time_base)

    def centre_frames(self, k: int) -> list[int]:
        if self.regular:  # on the grid, frame j starts at j * mean duration: time centres are index centres
            return segment_centres(len(self.pts_sorted), k)
        start = self.pts_sorted[0]
        return segment_centre_frames([p - start for p in self.pts_sorted], self.end_pts - start, k)


@dataclass(frozen=True)
class _Orientation:
    """The display matrix as a rotation (counter-clockwise, multiple of 90) followed by an optional left-right mirror;
    applied like FFmpeg's autorotate (checked against the ffmpeg CLI in tests)."""

    rotation: int = 0
    mirrored: bool = False

    @classmethod
    def of_frame(cls, frame) -> _Orientation:
        for side_data in frame.side_data:
            if side_data.type.name == "DISPLAYMATRIX":
                return cls.from_matrix(struct.unpack("=9i", bytes(side_data)))
        return cls()

    @classmethod
    def from_matrix(cls, matrix) -> _Orientation:
        # FFmpeg's matrix maps a stored pixel (x, y) to (a x + c y, b x + d y); a mirror makes the determinant negative
        a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
        mirrored = a * d - b * c < 0
        if mirrored:
            a, c = -a, -c  # undo the mirror to read the rotation
        rotation = round(math.degrees(math.atan2(-b, a)) / 90) * 90 % 360  # other angles snap to the nearest 90
        return cls(rotation, mirrored)

    @property
    def swaps_sides(self) -> bool:
        return self.rotation in (90, 270)

    def apply_numpy(self, frame: np.ndarray) -> np.ndarray:  # [h, w, 3]
        frame = np.rot90(frame, self.rotation // 90)
        return frame[:, ::-1] if self.mirrored else frame

    def apply_torch(self, frames: torch.Tensor) -> torch.Tensor:  # [n, h, w, 3]
        frames = frames.rot90(self.rotation // 90, dims=(1, 2))
        return frames.flip(2) if self.mirrored else frames


class _Source:
    """A local file or the bytes of one; `label` names it in errors."""

    def __init__(self, video: VideoSource):
        self.path: Path | None = None
        self.data: bytes | None = None
        if isinstance(video, (bytes, bytearray, memoryview)):
            self.data = bytes(video)
            self.label = f"<{len(self.data)} bytes>"
            return
        text = os.fspath(video)
        if isinstance(text, str) and text.startswith("file://"):
            text = text[len("file://"):]
        if isinstance(text, str) and "://" in text:
            raise VideoDecodeError(text, "a URL: the sampler reads local files or bytes, download the video first",
                                   "unreadable")
        self.path = Path(text)
        self.label = str(self.path)

    def check(self) -> None:
        if self.data is not None:
            if not self.data:
                raise VideoDecodeError(self.label, "zero bytes", "empty")
            return
        if not self.path.exists():
            raise VideoDecodeError(self.label, "missing file", "missing")
        if self.path.stat().st_size == 0:
            raise VideoDecodeError(self.label, "zero-byte file", "empty")

    def opener(self):
        return str(self.path) if self.data is None else io.BytesIO(self.data)

    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        with open(self.path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()


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


def _open(source: _Source):
    av = _require("av")
    source.check()
    try:
        container = av.open(source.opener())
    except Exception as exc:  # PyAV raises several FFmpeg error classes; all mean "not a readable container"
        raise VideoDecodeError(source.label, f"cannot open: {exc}", "unreadable") from exc
    format_name = container.format.name
    if format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe"):
        container.close()
        raise VideoDecodeError(source.label, f"not a video container (FFmpeg reads it as {format_name})", "unreadable")
    if not container.streams.video:
        kind = "audio_only" if container.streams.audio else "no_video"
        container.close()
        raise VideoDecodeError(source.label, "no video stream", kind)
    return container


def _build_index(container, label: str) -> _Index:
    stream = container.streams.video[0]
    length_size = _nal_length_size(stream.codec_context.extradata) if stream.codec_context.name == "h264" else None
    packets: list[_PacketInfo] = []
    first_duration, on_disk = 0, 0
    try:
        for packet in container.demux(stream):
            on_disk += packet.size > 0
            if packet.pts is None or packet.size == 0 or packet.is_discard:  # discarded: edit-list lead-in
                continue
            reference = True if length_size is None else _h264_is_reference(bytes(packet), length_size)
            packets.append(_PacketInfo(packet.pts, packet.is_keyframe, reference, len(packets)))
            first_duration = first_duration or packet.duration or 0
    except Exception as exc:  # a demux error means a damaged file
        raise VideoDecodeError(label, f"demux failed: {exc}", "truncated") from exc
    if stream.frames and on_disk < stream.frames:  # the header (mp4 moov) lists frames whose data is not there
        raise VideoDecodeError(label, f"{on_disk} of {stream.frames} declared frames on disk", "truncated")
    if not packets:
        raise VideoDecodeError(label, "no video frames", "undecodable")
    if not packets[0].keyframe:
        packets[0].keyframe = True  # a stream must start decoding somewhere; FFmpeg treats it as a recovery point
    pts_sorted = sorted(p.pts for p in packets)
    steps = [b - a for a, b in zip(pts_sorted, pts_sorted[1:], strict=False)]
    if steps:
        mean_step = Fraction(pts_sorted[-1] - pts_sorted[0], len(steps))
        end = pts_sorted[-1] + mean_step
        variable = max(steps) - min(steps) > _VFR_SPREAD * mean_step
        # |start_j - j * last / (n - 1)| <= 1 tick, in integers
        last, intervals = pts_sorted[-1] - pts_sorted[0], len(steps)
        regular = all(abs((p - pts_sorted[0]) * intervals - j * last) <= intervals for j, p in enumerate(pts_sorted))
    else:  # one frame: its own duration when the container says it
        end, variable, regular = Fraction(pts_sorted[0] + first_duration), False, True
    return _Index(packets, pts_sorted, Fraction(stream.time_base), end, regular, variable)


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
    converting. AREA filtering anti-aliases large downscales (1080x1920 -> 224x224) at about the cost of bilinear.
    The display matrix is read from the first frame; `size` is the size after orientation."""

    def __init__(self, size: tuple[int, int] | None):
        self.size, self.reformatter = size, _require("av.video.reformatter").VideoReformatter()
        self.orientation: _Orientation | None = None

    def __call__(self, frame) -> np.ndarray:
        if self.orientation is None:
            self.orientation = _Orientation.of_frame(frame)
        if self.size is None:
            h, w = frame.height, frame.width
        else:
            h, w = self.size[::-1] if self.orientation.swaps_sides else self.size
        array = self.reformatter.reformat(frame, width=w, height=h, format="rgb24", interpolation=INTERPOLATION
                                          ).to_ndarray()
        return array if self.orientation == _Orientation() else self.orientation.apply_numpy(array)


@dataclass
class _Decoded:
    index: _Index
    spatial_indices: list[int]
    temporal_indices: list[int]
    arrays: dict[int, np.ndarray]  # by pts
    frames_decoded: int
    orientation: _Orientation
    width: int  # stored (coded) size
    height: int
    container_format: str
    codec: str

    def pick(self, indices: list[int]) -> tuple[list[np.ndarray], list[float]]:
        return [self.arrays[self.index.pts_sorted[i]] for i in indices], [self.index.time_of(i) for i in indices]


def _decode_pyav(source: _Source, targets_fn, size, threads: int, mode: str) -> _Decoded:
    container = _open(source)
    try:
        stream = container.streams.video[0]
        index = _build_index(container, source.label)
        spatial_idx, temporal_idx = targets_fn(index)
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
        needed = _needed_packets(index, wanted_pts) if mode == "exact" else [
            p.order for p in index.packets if p.pts in wanted_pts]
        arrays: dict[int, np.ndarray] = {}
        decoded, orientation = 0, _Orientation()
        if needed:
            try:
                runs = _decode_runs_of(_entry_chunks(index, needed), threads)
                decoded, orientation = _decode_runs(container, source, index, runs, wanted_pts, size, threads, arrays)
            except VideoDecodeError:
                raise
            except Exception as exc:  # FFmpeg decode errors on damaged data
                raise VideoDecodeError(source.label, f"decode failed: {exc}", "undecodable") from exc
        ctx = stream.codec_context
        result = _Decoded(index, spatial_idx, temporal_idx, arrays, decoded, orientation, ctx.width, ctx.height,
                          container.format.name, ctx.name)
    finally:
        container.close()
    missing = wanted_pts - arrays.keys()
    if missing:
        raise VideoDecodeError(source.label, f"{len(missing)} target frames could not be decoded (truncated or "
                                             "damaged)", "truncated")
    return result


def _entry_chunks(index: _Index, needed: list[int]) -> list[list[int]]:
    """Split the needed packets (decode order) into chunks that each start decoding afresh at a keyframe.

    A GOP starts a chunk when reference packets before its keyframe were skipped (the decoder must restart there as
    after a seek: continuing would leave a gap in the H.264 frame numbers, which FFmpeg answers on open-GOP streams
    by reordering and losing frames) or when it needs no picture shown before its keyframe (nothing of the previous
    GOP is needed, so a separate decoder can start there). Otherwise it continues the chunk before it."""
    gops: list[list[int]] = []
    for order in needed:
        if index.packets[order].keyframe or not gops:
            gops.append([order])
        else:
            gops[-1].append(order)
    chunks = gops[:1]
    for gop in gops[1:]:
        key_pts = index.packets[gop[0]].pts
        skipped_reference = any(p.reference for p in index.packets[chunks[-1][-1] + 1:gop[0]])
        if skipped_reference or not any(index.packets[order].pts < key_pts for order in gop):
            chunks.append(gop)
        else:
            chunks[-1].extend(gop)
    return chunks


def _decode_runs_of(chunks: list[list[int]], parts: int) -> list[list[list[int]]]:
    """At most `parts` contiguous runs of chunks, one per decoder, balanced by packet count (each chunk goes to the
    run its middle packet falls in)."""
    total = sum(map(len, chunks))
    runs: list[list[list[int]]] = [[] for _ in range(min(parts, len(chunks)))]
    done = 0
    for chunk in chunks:
        runs[min(len(runs) - 1, (2 * done + len(chunk)) * len(runs) // (2 * total))].append(chunk)
        done += len(chunk)
    return [run for run in runs if run]


def _decode_runs(container, source: _Source, index: _Index, runs: list[list[list[int]]], wanted_pts: set[int],
                 size, threads: int, arrays: dict) -> tuple[int, _Orientation]:
    """Decode each run on its own decoder: the first on `container` in this thread, the others in threads on their
    own containers (FFmpeg decodes without the GIL; chunks decode independently, so this scales where FFmpeg's frame
    threads stall on a chain of P-frames). With fewer runs than `threads`, each decoder also gets FFmpeg threads.
    Returns the frames decoded and the orientation read from the first frame."""
    per_decoder = max(1, threads // len(runs))

    def decode(run: list[list[int]], own_container) -> tuple[dict, int, _Orientation | None]:
        ctx = own_container.streams.video[0].codec_context
        ctx.thread_type = "AUTO" if per_decoder > 1 else "SLICE"
        ctx.thread_count = per_decoder
        convert, found = _Converter(size), {}
        count = _decode_chunks(own_container, index, run, wanted_pts, convert, found)
        return found, count, convert.orientation

    def decode_elsewhere(run: list[list[int]]):
        with _open(source) as own_container:
            return decode(run, own_container)

    with ThreadPoolExecutor(max_workers=max(1, len(runs) - 1)) as pool:
        others = [pool.submit(decode_elsewhere, run) for run in runs[1:]]
        results = [decode(runs[0], container)] + [future.result() for future in others]
    for found, _, _ in results:
        arrays.update(found)
    return sum(count for _, count, _ in results), results[0][2] or _Orientation()


def _decode_chunks(container, index: _Index, chunks: list[list[int]], wanted_pts: set[int], convert: _Converter,
                   arrays: dict, seek: bool = True) -> int:
    """Send the chunks' packets (decode-order positions) to the decoder, restarting it (drain, reset) at each chunk;
    keep wanted frames; return frames decoded."""
    stream = container.streams.video[0]
    ctx = stream.codec_context
    order_of_pts = {p.pts: p.order for p in index.packets}
    chunk_of = {order: k for k, chunk in enumerate(chunks) for order in chunk}
    first = chunks[0][0]
    # the index pass left the demuxer at the end: always seek (to the first needed keyframe, or back to the start)
    container.seek(index.packets[first].pts if seek else 0, stream=stream, backward=True, any_frame=False)
    decoded, remaining, started, current = 0, len(chunk_of), False, 0

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
                return _decode_chunks(container, index, chunks, wanted_pts, convert, arrays, seek=False)
            started = True
        chunk = chunk_of.get(position)
        if chunk is None:
            continue
        if chunk != current:  # a fresh start, as after a seek
            decoded += keep(ctx.decode(None))
            ctx.flush_buffers()
            current = chunk
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


def _first_frame_only(index: _Index) -> tuple[list[int], list[int]]:
    return [0], []


def _sample_torchcodec(source: _Source, targets_fn, size, threads: int) -> SampledFrames:
    video_decoder = _require("torchcodec.decoders").VideoDecoder
    # The index (which frames) and the display matrix (how to orient them) come from PyAV, as for the pyav backend.
    probed = _decode_pyav(source, _first_frame_only, (16, 16), 1, "exact")
    index, orientation = probed.index, probed.orientation
    spatial_idx, temporal_idx = targets_fn(index)
    transforms = None
    if size is not None:
        transforms = [_require("torchcodec.transforms").Resize(size=tuple(size))]
    union = sorted(set(spatial_idx) | set(temporal_idx))
    try:
        decoder = video_decoder(source.opener() if source.data is None else source.data, seek_mode="exact",
                                num_ffmpeg_threads=threads, dimension_order="NHWC", transforms=transforms)
        batch = decoder.get_frames_at(union)
        own_rotation = round((decoder.metadata.rotation or 0) / 90) % 4
    except Exception as exc:  # torchcodec raises RuntimeError/ValueError for damaged files
        raise VideoDecodeError(source.label, f"torchcodec: {exc}", "undecodable") from exc
    # torchcodec applies the rotation but not a mirror: undo its rotation, then orient like the pyav backend
    data = orientation.apply_torch(batch.data.rot90(-own_rotation, dims=(1, 2))).contiguous()
    row = {i: k for k, i in enumerate(union)}
    return SampledFrames(
        spatial=data[[row[i] for i in spatial_idx]], temporal=data[[row[i] for i in temporal_idx]],
        spatial_indices=spatial_idx, temporal_indices=temporal_idx,
        spatial_times=[index.time_of(i) for i in spatial_idx], temporal_times=[index.time_of(i) for i in temporal_idx],
        decoder="torchcodec-exact", num_frames=len(index.pts_sorted), duration_s=index.duration_s,
        rotation=orientation.rotation, mirrored=orientation.mirrored, start_offset_s=index.start_offset_s,
        frames_decoded=-1)


def _cache_path(cache_dir: Path, sha: str, params: dict) -> Path:
    key = hashlib.sha256(json.dumps({"sha256": sha, "v": _CACHE_VERSION, **params}, sort_keys=True).encode())
    return cache_dir / key.hexdigest()[:2] / f"{key.hexdigest()}.npz"


_CACHED_FIELDS = ("spatial_indices", "temporal_indices", "spatial_times", "temporal_times", "decoder", "num_frames",
                  "duration_s", "rotation", "mirrored", "start_offset_s", "frames_decoded")


def _cache_load(path: Path) -> SampledFrames | None:
    import torch

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return SampledFrames(spatial=torch.from_numpy(z["spatial"].copy()),
                                 temporal=torch.from_numpy(z["temporal"].copy()), **meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged cache entry is recomputed, never trusted


def _cache_store(path: Path, frames: SampledFrames) -> None:
    meta = {k: getattr(frames, k) for k in _CACHED_FIELDS}
    buffer = io.BytesIO()
    np.savez(buffer, spatial=frames.spatial.numpy(), temporal=frames.temporal.numpy(), meta=np.array(json.dumps(meta)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:  # write, then rename
        tmp.write(buffer.getvalue())
    os.replace(tmp.name, path)


def sample_frames(video: VideoSource, *, spatial: int = 8, temporal: int = 32,
                  size: tuple[int, int] | None = None, mode: str = "exact", temporal_fps: float | None = None,
                  backend: str = "pyav", threads: int = 2, cache_dir: str | os.PathLike | None = None,
                  video_sha256: str | None = None) -> SampledFrames:
    """Sample `spatial` and the temporal frames at segment centres in time, with one decode (see module doc).

    video: a local path or the file's bytes. size: (h, w) after orientation, or None for the native display size.
    mode: "exact" (default) or "fast" (keyframe-snapped).
    Raises VideoDecodeError(path, reason) for a missing, empty, truncated or undecodable file.
    """
    if mode not in ("exact", "fast"):
        raise ValueError(f"mode must be 'exact' or 'fast', not {mode!r}")
    if backend not in ("pyav", "torchcodec"):
        raise ValueError(f"backend must be 'pyav' or 'torchcodec', not {backend!r}")
    if backend == "torchcodec" and mode == "fast":
        raise ValueError("mode='fast' is implemented by the pyav backend only")
    source = _Source(video)
    size = tuple(size) if size is not None else None
    cache_file = None
    if cache_dir is not None:
        source.check()
        params = {"spatial": spatial, "temporal": temporal, "size": size, "mode": mode, "temporal_fps": temporal_fps,
                  "backend": backend}
        cache_file = _cache_path(Path(cache_dir), video_sha256 or source.sha256(), params)
        if cache_file.exists() and (cached := _cache_load(cache_file)) is not None:
            return cached

    def targets(index: _Index) -> tuple[list[int], list[int]]:
        n = len(index.pts_sorted)
        return index.centre_frames(spatial), index.centre_frames(temporal_count(n, index.duration_s, temporal,
                                                                                temporal_fps))

    if backend == "torchcodec":
        result = _sample_torchcodec(source, targets, size, threads)
    else:
        decoded = _decode_pyav(source, targets, size, threads, mode)
        spatial_arrays, spatial_times = decoded.pick(decoded.spatial_indices)
        temporal_arrays, temporal_times = decoded.pick(decoded.temporal_indices)
        index = decoded.index
        result = SampledFrames(
            spatial=_stack(spatial_arrays, size), temporal=_stack(temporal_arrays, size),
            spatial_indices=decoded.spatial_indices, temporal_indices=decoded.temporal_indices,
            spatial_times=spatial_times, temporal_times=temporal_times, decoder=f"pyav-{mode}",
            num_frames=len(index.pts_sorted), duration_s=index.duration_s, rotation=decoded.orientation.rotation,
            mirrored=decoded.orientation.mirrored, start_offset_s=index.start_offset_s,
            frames_decoded=decoded.frames_decoded)
    if cache_file is not None:
        _cache_store(cache_file, result)
    return result


@dataclass(frozen=True)
class FramePolicy:
    """What a model is shown of a video; part of every evaluation sample's frames fingerprint.

    Args:
        spatial (`int`, defaults to 8): frames at segment centres (in time) for the spatial branch.
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

    def sample(self, video: VideoSource, threads: int = 1, **options) -> SampledFrames:
        """`sample_frames` under this policy; `options` pass through (backend, cache_dir, ...)."""
        return sample_frames(video, spatial=self.spatial, temporal=self.temporal, size=self.size, mode=self.mode,
                             threads=threads, **options)


@dataclass
class VideoInfo:
    width: int  # display size: after the display matrix's rotation, as the sampler returns frames
    height: int
    num_frames: int
    duration_s: float
    rotation: int = 0
    mirrored: bool = False
    start_offset_s: float = 0.0
    variable_frame_rate: bool = False
    container: str = ""  # FFmpeg's demuxer name, found from the content (not the file extension)
    codec: str = ""

    @property
    def fps(self) -> float | None:
        return self.num_frames / self.duration_s if self.duration_s > 0 else None


def probe(video: VideoSource, *, check_tail: bool = False) -> VideoInfo:
    """Open and index a video and decode its first frame (for the display matrix); with `check_tail`, also its last
    frame, so a file whose end does not decode is caught. VideoDecodeError(path, reason, kind) when it is not a video.
    """
    def first_and_last(index: _Index) -> tuple[list[int], list[int]]:
        return [0], [len(index.pts_sorted) - 1] if check_tail else []

    decoded = _decode_pyav(_Source(video), first_and_last, (16, 16), 1, "exact")
    index, orientation = decoded.index, decoded.orientation
    width, height = decoded.width, decoded.height
    if orientation.swaps_sides:
        width, height = height, width
    return VideoInfo(width, height, len(index.pts_sorted), index.duration_s, orientation.rotation, orientation.mirrored,
                     index.start_offset_s, index.variable_frame_rate, decoded.container_format, decoded.codec)
