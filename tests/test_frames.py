"""The frame sampler: segment-centre indices, frames identical to decoding everything, fast mode, cache, errors.

Clips are tiny H.264 files written by mimic_data.render.write_mp4 (x264 with B-frames and a 2 s keyframe interval)."""

import math
import subprocess

import av
import numpy as np
import pytest
import torch

from mimic_data.render import write_mp4
from modeling_mimic_chat.frames_mimic_chat import (
    VideoDecodeError,
    _build_index,
    _decode_runs_of,
    _entry_chunks,
    _needed_packets,
    _open,
    _Source,
    sample_frames,
    segment_centres,
    temporal_count,
)

N_FRAMES, FPS = 97, 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """97 frames of a moving noise texture: every frame differs, so a wrong index shows as wrong pixels."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (72, 128, 3)).astype(np.int16)
    frames = np.stack([np.clip(np.roll(base, 3 * k, axis=1) + rng.integers(-8, 8, base.shape), 0, 255)
                       for k in range(N_FRAMES)]).astype(np.uint8)
    return write_mp4(frames, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=FPS)


def decode_all(path, size=None):
    """The lmms-eval style reference: decode every frame, then pick."""
    with av.open(str(path)) as container:
        if size is None:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        return [f.to_ndarray(format="rgb24", width=size[1], height=size[0], interpolation="AREA")
                for f in container.decode(video=0)]


def test_segment_centres_follow_the_contract():
    assert segment_centres(97, 8) == [math.floor((i + 0.5) * 97 / 8) for i in range(8)]
    assert segment_centres(10, 4) == [1, 3, 6, 8]
    assert segment_centres(3, 8) == [0, 0, 0, 1, 1, 2, 2, 2]  # fewer frames than wanted: repeats, never out of range
    assert segment_centres(0, 8) == []


def test_temporal_count_fps_rule_is_capped():
    assert temporal_count(300, 10.0, 32, None) == 32
    assert temporal_count(300, 10.0, 32, 1.0) == 10
    assert temporal_count(3000, 100.0, 32, 1.0) == 32
    assert temporal_count(5, 0.2, 32, 1.0) == 1


@pytest.fixture(scope="module")
def open_gop_clip(tmp_path_factory):
    """x264 open GOPs (keyframes are not IDR; B-frames after a keyframe show before it) with noise in every frame."""
    path = tmp_path_factory.mktemp("open_gop") / "open_gop.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=24:duration=4",
                    "-vf", "noise=alls=20:allf=t", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3",
                    "-x264-params", "open-gop=1:keyint=12:min-keyint=12:scenecut=0", str(path)], check=True)
    return path


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("size", [None, (32, 48)])
def test_exact_mode_equals_decoding_everything(clip, size, threads):
    reference = decode_all(clip, size)
    result = sample_frames(clip, size=size, threads=threads)
    assert result.num_frames == N_FRAMES == len(reference)
    assert result.spatial_indices == segment_centres(N_FRAMES, 8)
    assert result.temporal_indices == segment_centres(N_FRAMES, 32)
    assert result.spatial.dtype == torch.uint8
    h, w = size or (72, 128)
    assert tuple(result.spatial.shape) == (8, h, w, 3) and tuple(result.temporal.shape) == (32, h, w, 3)
    for tensor, indices in ((result.spatial, result.spatial_indices), (result.temporal, result.temporal_indices)):
        for row, index in enumerate(indices):
            np.testing.assert_array_equal(tensor[row].numpy(), reference[index], err_msg=f"frame {index}")
    assert result.spatial_times == pytest.approx([i / FPS for i in result.spatial_indices])
    # non-reference frames that are not targets were skipped, and nothing after the last target was decoded
    assert result.frames_decoded < N_FRAMES


def test_threads_split_the_decode_into_runs_that_start_at_keyframes(clip):
    """threads=2 decodes on two decoders (GOP runs), each starting at a keyframe, with no frame decoded twice."""
    container = _open(_Source(clip))
    index = _build_index(container, str(clip))
    container.close()
    wanted = {index.pts_sorted[i] for i in segment_centres(N_FRAMES, 8) + segment_centres(N_FRAMES, 32)}
    needed = _needed_packets(index, wanted)
    runs = _decode_runs_of(_entry_chunks(index, needed), 2)
    assert len(runs) == 2 and [order for run in runs for chunk in run for order in chunk] == needed
    assert all(index.packets[chunk[0]].keyframe for run in runs for chunk in run)
    sizes = [sum(map(len, run)) for run in runs]
    assert abs(sizes[0] - sizes[1]) <= max(len(chunk) for run in runs for chunk in run)
    one, two = sample_frames(clip, threads=1), sample_frames(clip, threads=2)
    assert torch.equal(one.temporal, two.temporal) and one.frames_decoded == two.frames_decoded


@pytest.mark.parametrize("spatial", [3, 4, 5, 8, 12])
def test_open_gop_clips_decode_exactly_with_gops_skipped(open_gop_clip, spatial):
    """Skipping GOPs of an open-GOP stream used to lose target frames (a frame-number gap); each chunk now restarts
    the decoder as a seek would, on one decoder or several."""
    reference = decode_all(open_gop_clip)
    counts = set()
    for threads in (1, 2, 3):
        result = sample_frames(open_gop_clip, spatial=spatial, temporal=0, threads=threads)
        assert result.spatial_indices == segment_centres(len(reference), spatial)
        for row, index in enumerate(result.spatial_indices):
            np.testing.assert_array_equal(result.spatial[row].numpy(), reference[index], err_msg=f"frame {index}")
        counts.add(result.frames_decoded)
    assert len(counts) == 1  # the split into runs decodes the same frames


def test_spatial_only_decodes_less(clip):
    both = sample_frames(clip)
    spatial_only = sample_frames(clip, temporal=0)
    assert spatial_only.temporal.shape[0] == 0 and spatial_only.spatial_indices == both.spatial_indices
    assert torch.equal(spatial_only.spatial, both.spatial)
    assert spatial_only.frames_decoded < both.frames_decoded


def test_fps_rule_sets_the_temporal_count(clip):
    result = sample_frames(clip, temporal=32, temporal_fps=1.0)
    assert len(result.temporal_indices) == round(N_FRAMES / FPS)  # 12 s at 1 fps
    assert result.temporal_indices == segment_centres(N_FRAMES, round(N_FRAMES / FPS))


def test_fast_mode_returns_exact_keyframes(clip):
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.pts is not None]
    pts_sorted = sorted(p.pts for p in packets)
    keyframe_indices = {pts_sorted.index(p.pts) for p in packets if p.is_keyframe}
    reference = decode_all(clip)
    result = sample_frames(clip, mode="fast")
    assert result.decoder == "pyav-fast"
    assert set(result.spatial_indices) | set(result.temporal_indices) <= keyframe_indices
    exact = segment_centres(N_FRAMES, 8)
    gop = 2 * FPS  # write_mp4's keyframe interval
    assert all(abs(a - b) <= gop // 2 for a, b in zip(result.spatial_indices, exact, strict=True))
    for row, index in enumerate(result.spatial_indices):
        np.testing.assert_array_equal(result.spatial[row].numpy(), reference[index])
    assert result.frames_decoded <= len(keyframe_indices)


def test_torchcodec_backend_agrees(clip):
    ours = sample_frames(clip)
    theirs = sample_frames(clip, backend="torchcodec")
    assert theirs.spatial_indices == ours.spatial_indices and theirs.temporal_indices == ours.temporal_indices
    difference = (theirs.temporal.int() - ours.temporal.int()).abs()
    assert difference.float().mean() < 1.0  # same frames; colour conversion may differ by rounding only


def test_cache_is_keyed_by_content_and_parameters(clip, tmp_path):
    cache = tmp_path / "cache"
    first = sample_frames(clip, cache_dir=cache)
    again = sample_frames(clip, cache_dir=cache)
    assert torch.equal(first.spatial, again.spatial) and torch.equal(first.temporal, again.temporal)
    assert again.temporal_times == first.temporal_times
    assert len(list(cache.rglob("*.npz"))) == 1
    sample_frames(clip, cache_dir=cache, size=(16, 16))
    assert len(list(cache.rglob("*.npz"))) == 2
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    sample_frames(copy, cache_dir=cache)  # same bytes under another name: a cache hit, no new entry
    assert len(list(cache.rglob("*.npz"))) == 2


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "truncated"])
def test_bad_files_raise_video_decode_error(clip, tmp_path, kind):
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(1).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        path.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(VideoDecodeError) as info:
        sample_frames(path)
    assert info.value.path == str(path) and info.value.reason


def test_bad_arguments_are_rejected(clip):
    with pytest.raises(ValueError, match="mode"):
        sample_frames(clip, mode="approximate")
    with pytest.raises(ValueError, match="backend"):
        sample_frames(clip, backend="decord")
