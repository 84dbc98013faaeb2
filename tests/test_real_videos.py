"""Real-world videos in, faithful frames out: an odd-video corpus the project did not render for itself.

Made once per session with the ffmpeg CLI and PyAV: display-matrix rotations and mirrors, variable frame rate,
MPEG-TS with a start offset, webm/mkv (also under misleading names), yuv444 and odd sizes, a one-frame and a 0.2 s
clip, a truncated file, audio only, zero bytes and text. The ffmpeg CLI (autorotate on) is the reference for
orientation; decoding everything with PyAV is the reference for pixels."""

import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from mimic_data.hydrate.preflight import BLOCKING, preflight
from modeling_mimic_chat.frames_mimic_chat import (
    VideoDecodeError,
    probe,
    sample_frames,
    segment_centre_frames,
    segment_centres,
)

ORIENTATIONS = {  # name -> (counter-clockwise degrees, mirrored)
    "rot90": (90, False), "rot270": (270, False), "rot180": (180, False), "mirror": (0, True), "rot90_mirror": (90, True),
}


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def _pattern(n: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames whose corners differ (orientation shows) and whose brightness band moves (frame order shows)."""
    frames = np.zeros((n, height, width, 3), dtype=np.uint8)
    frames[:, : height // 4, : width // 4, 0] = 255  # red: top-left as stored
    frames[:, -height // 4:, : width // 4, 1] = 255  # green: bottom-left as stored
    for k in range(n):
        frames[k, :, width // 2 + (k % (width // 2)), 2] = 255
    return frames


def _encode(path, frames, *, rate=8, pts=None, time_base=None, rotation=None, mirrored=False, gop=None):
    """H.264 through PyAV; `pts` (in `time_base`) makes a variable frame rate, `rotation` writes a display matrix."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if gop:
            stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=mirrored)
        for k, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[k], time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd_videos")
    videos = root / "videos"
    videos.mkdir()
    files = {}
    for name, (degrees, mirrored) in ORIENTATIONS.items():
        files[name] = _encode(videos / f"{name}.mp4", _pattern(12), rotation=degrees, mirrored=mirrored)
    # 2 s at 30 fps, then 12 s at 10 fps (timestamps in 1/30 s)
    vfr_pts = list(range(60)) + [60 + 3 * j for j in range(120)]
    files["vfr"] = _encode(videos / "vfr.mp4", _pattern(180, 24, 32), rate=30, pts=vfr_pts, time_base=Fraction(1, 30))
    source = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=3"]
    files["ts"] = videos / "offset.ts"
    _ffmpeg(*source, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-output_ts_offset", "1.5", files["ts"])
    files["webm"] = videos / "clip.webm"
    _ffmpeg(*source, "-c:v", "libvpx-vp9", "-b:v", "200k", files["webm"])
    files["webm_30fps"] = videos / "ms_ticks.webm"  # 33.3 ms frames stored as 33/34 ms: rounded timestamps
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=32x24:rate=30", "-frames:v", "95", "-c:v", "libvpx-vp9", "-b:v", "50k",
            files["webm_30fps"])
    files["mkv"] = videos / "clip.mkv"
    _ffmpeg(*source, "-c:v", "libx264", "-pix_fmt", "yuv420p", files["mkv"])
    files["webm_named_mp4"] = videos / "really_webm.mp4"
    files["webm_named_mp4"].write_bytes(files["webm"].read_bytes())
    files["mkv_no_extension"] = videos / "download"
    files["mkv_no_extension"].write_bytes(files["mkv"].read_bytes())
    files["yuv444"] = videos / "yuv444.mp4"
    _ffmpeg(*source, "-c:v", "libx264", "-pix_fmt", "yuv444p", files["yuv444"])
    files["odd_size"] = videos / "odd_size.mp4"
    _ffmpeg(*source, "-vf", "scale=33:17", "-c:v", "libx264", "-pix_fmt", "yuv444p", files["odd_size"])
    files["one_frame"] = _encode(videos / "one_frame.mp4", _pattern(1))
    files["short"] = videos / "short.mp4"  # 0.2 s: 5 frames at 25 fps
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=0.2", "-c:v", "libx264", files["short"])
    files["one_keyframe"] = _encode(videos / "one_keyframe.mp4", _pattern(48), gop=1000)  # 6 s, a single keyframe
    faststart = root / "faststart.mp4"
    _ffmpeg(*source, "-c:v", "libx264", "-movflags", "+faststart", faststart)
    files["truncated"] = videos / "truncated.mp4"
    files["truncated"].write_bytes(faststart.read_bytes()[: int(faststart.stat().st_size * 0.6)])
    files["audio"] = videos / "audio.mp4"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", files["audio"])
    files["empty"] = videos / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = videos / "notes.txt"
    files["text"].write_text("not a video\n" * 20)
    files["text_named_mp4"] = videos / "notes.mp4"
    files["text_named_mp4"].write_text("not a video\n" * 20)
    (videos / ".abc.dl.mp4.part").write_bytes(b"partial download")  # a download in progress: not scanned
    return files


def _ffmpeg_frames(path, height, width) -> np.ndarray:
    """Every frame as the ffmpeg CLI shows it (autorotate applies the display matrix)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def _decode_all(path) -> dict[int, np.ndarray]:
    with av.open(str(path)) as container:
        return {frame.pts: frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)}


@pytest.mark.parametrize("name", ORIENTATIONS)
def test_display_matrix_is_applied_like_ffmpeg_by_both_backends(corpus, name):
    degrees, mirrored = ORIENTATIONS[name]
    portrait = degrees in (90, 270)
    height, width = (64, 48) if portrait else (48, 64)
    reference = _ffmpeg_frames(corpus[name], height, width)
    ours = sample_frames(corpus[name], spatial=4, temporal=8)
    theirs = sample_frames(corpus[name], spatial=4, temporal=8, backend="torchcodec")
    assert (ours.rotation, ours.mirrored) == (theirs.rotation, theirs.mirrored) == (degrees, mirrored)
    assert tuple(ours.temporal.shape) == tuple(theirs.temporal.shape) == (8, height, width, 3)
    for k, index in enumerate(ours.temporal_indices):
        np.testing.assert_array_equal(ours.temporal[k].numpy(), reference[index], err_msg=f"{name} frame {index}")
    assert (theirs.temporal.int() - ours.temporal.int()).abs().float().mean() < 1.0
    resized = sample_frames(corpus[name], spatial=2, temporal=0, size=(20, 10))  # size is after orientation
    assert tuple(resized.spatial.shape) == (2, 20, 10, 3)
    info = probe(corpus[name])
    assert (info.width, info.height) == (width, height) and (info.rotation, info.mirrored) == (degrees, mirrored)


def test_variable_frame_rate_is_sampled_uniformly_in_time(corpus):
    result = sample_frames(corpus["vfr"], size=(24, 32))
    assert result.num_frames == 180 and result.duration_s == pytest.approx(14.0, abs=0.1)
    times = result.temporal_times
    gaps = np.diff(times)
    assert gaps.max() <= 2 * np.median(gaps)  # the index rule gave 11 of 32 frames in the first 2 s
    assert sum(t < 2.0 for t in times) <= 6
    expected = [(i + 0.5) * result.duration_s / 32 for i in range(32)]
    assert all(abs(t - e) <= 0.1 for t, e in zip(times, expected, strict=True))  # within one 10 fps frame
    assert probe(corpus["vfr"]).variable_frame_rate
    reference = _decode_all(corpus["vfr"])  # exact mode is still identical to decoding everything
    ordered = [reference[pts] for pts in sorted(reference)]
    native = sample_frames(corpus["vfr"])
    for k, index in enumerate(native.temporal_indices):
        np.testing.assert_array_equal(native.temporal[k].numpy(), ordered[index])


def test_segment_centre_frames_take_the_frame_shown_at_each_centre():
    starts = [0, 10, 20, 30, 100]  # frame 3 is shown from 30 to 100; the last frame lasts until 110
    assert segment_centre_frames(starts, 110, 4) == [1, 3, 3, 3]  # centres 13.75, 41.25, 68.75, 96.25
    regular = [3 * j for j in range(97)]  # on a regular grid, time centres are the index rule's centres
    assert segment_centre_frames(regular, 3 * 97, 32) == segment_centres(97, 32)


def test_rounded_constant_frame_rate_keeps_the_index_rule(corpus):
    result = sample_frames(corpus["webm_30fps"], size=(8, 8))
    assert result.num_frames == 95 and not probe(corpus["webm_30fps"]).variable_frame_rate
    assert result.spatial_indices == segment_centres(95, 8) and result.temporal_indices == segment_centres(95, 32)


def test_mpeg_ts_start_offset_is_removed(corpus):
    result = sample_frames(corpus["ts"], spatial=8, temporal=32)
    assert result.start_offset_s > 1.4  # -output_ts_offset 1.5 (plus the muxer's own delay)
    assert result.duration_s == pytest.approx(3.0, abs=0.05)
    assert result.spatial_indices == segment_centres(75, 8)  # constant frame rate: the index rule's frames
    assert result.temporal_times[0] == pytest.approx(0.04, abs=0.001)  # frame 1 of 75 at 25 fps: t from frame 0
    assert all(0 <= t < 3.0 for t in result.spatial_times + result.temporal_times)


@pytest.mark.parametrize("name", ["ts", "webm", "mkv", "webm_named_mp4", "mkv_no_extension", "yuv444", "odd_size"])
def test_any_container_samples_exactly(corpus, name):
    reference = _decode_all(corpus[name])
    result = sample_frames(corpus[name])
    info = probe(corpus[name])
    assert result.num_frames == len(reference) == info.num_frames == 75
    ordered = [reference[pts] for pts in sorted(reference)]
    for k, index in enumerate(result.temporal_indices):
        np.testing.assert_array_equal(result.temporal[k].numpy(), ordered[index], err_msg=f"{name} frame {index}")
    assert result.shortfall() is None and result.repeated_indices == []
    if name == "webm_named_mp4":
        assert info.container == "matroska,webm"  # found from the content, not the name


def test_bytes_give_the_same_frames_and_urls_are_refused(corpus):
    from_path = sample_frames(corpus["webm"], spatial=4, temporal=8)
    from_bytes = sample_frames(corpus["webm"].read_bytes(), spatial=4, temporal=8)
    assert torch.equal(from_path.temporal, from_bytes.temporal) and from_path.temporal_times == from_bytes.temporal_times
    with pytest.raises(VideoDecodeError, match="URL"):
        sample_frames("https://example.com/video.mp4")


@pytest.mark.parametrize("name, distinct", [("one_frame", 1), ("short", 5)])
def test_short_clips_say_how_many_distinct_frames_they_hold(corpus, name, distinct):
    result = sample_frames(corpus[name])
    assert tuple(result.spatial.shape[:1]) == (8,) and result.temporal.shape[0] == 32
    assert result.distinct_frames == distinct == result.num_frames
    assert result.repeated_indices == list(range(distinct))
    note = result.shortfall()
    assert note.startswith(f"only {distinct} distinct frame") and "8 spatial + 32 temporal" in note


def test_fast_mode_says_when_few_keyframes_stand_in_for_many_frames(corpus):
    fast = sample_frames(corpus["one_keyframe"], mode="fast")
    assert fast.distinct_frames == 1 and "fast mode keeps keyframes only" in fast.shortfall()
    exact = sample_frames(corpus["one_keyframe"])
    assert exact.repeated_indices == [] and exact.shortfall() is None


@pytest.mark.parametrize("name, kind", [("truncated", "truncated"), ("audio", "audio_only"), ("empty", "empty"),
                                        ("text", "unreadable"), ("text_named_mp4", "unreadable")])
def test_bad_files_raise_with_a_kind(corpus, name, kind):
    with pytest.raises(VideoDecodeError) as info:
        sample_frames(corpus[name])
    assert info.value.kind == kind and info.value.path == str(corpus[name])


def test_preflight_scans_every_file_by_content(corpus):
    report = preflight(corpus["ts"].parent.parent)
    rows = {row["relpath"].split("/", 1)[1]: row for row in report["files"]}
    assert ".abc.dl.mp4.part" not in rows  # a download in progress
    assert {"offset.ts", "clip.webm", "clip.mkv", "download", "notes.txt"} <= set(rows)
    for name in ("ts", "webm", "mkv", "webm_named_mp4", "mkv_no_extension", "yuv444", "odd_size", "rot90"):
        row = rows[corpus[name].name]
        assert row["problems"] == [], (name, row)
    assert rows["offset.ts"]["start_offset_s"] > 1.4 and rows["rot90.mp4"]["rotation"] == 90
    assert (rows["rot90.mp4"]["width"], rows["rot90.mp4"]["height"]) == (48, 64)  # as displayed
    assert rows["vfr.mp4"]["problems"] == ["variable_frame_rate"]
    expected = {"truncated.mp4": "truncated", "audio.mp4": "audio_only", "empty.mp4": "zero_byte",
                "notes.txt": "undecodable", "notes.mp4": "undecodable", "one_frame.mp4": "too_short",
                "short.mp4": "too_short"}
    for name, problem in expected.items():
        assert problem in rows[name]["problems"], (name, rows[name])
    assert "frames will repeat" in rows["short.mp4"]["message"]
    assert report["n_blocking"] == sum(bool(BLOCKING & set(row["problems"])) for row in report["files"]) == 5


def test_harness_rows_carry_distinct_frames_and_times(corpus):
    from mimic_eval.harness.decode import condition_frames, decode_one
    from modeling_mimic_chat.frames_mimic_chat import FramePolicy

    decoded = decode_one("short", corpus["short"], FramePolicy(size=(16, 16)))
    assert decoded.distinct_frames == 5 and decoded.frame_note.startswith("only 5 distinct frames")
    assert decoded.frames["times"]["temporal"][0] == 0.0 and decoded.frames["times"]["num_frames"] == 5
    blank = condition_frames(decoded.frames, "blank")
    assert int(blank["temporal"].sum()) == 0 and blank["times"] == decoded.frames["times"]
    single = condition_frames(decoded.frames, "single_frame")
    middle_time = decoded.frames["times"]["temporal"][16]
    assert single["times"]["spatial"] == [middle_time] * 8 and torch.equal(single["spatial"][0], single["temporal"][-1])
    full = decode_one("vfr", corpus["vfr"], FramePolicy(size=(16, 16)))
    assert full.distinct_frames == 40 - len(set(full.indices["spatial"]) & set(full.indices["temporal"]))
    assert full.frame_note is None


def test_hf_adapter_passes_frame_times_to_the_processor(corpus, tmp_path):
    """TINY RANDOM Qwen2.5-VL: only the processor's time fields are checked, not the model's answers."""
    from eval_helpers import save_tiny_qwen25_vl

    from mimic_eval.adapters.base import McqRequest
    from mimic_eval.adapters.hf_vlm import HFVideoAdapter
    from mimic_eval.harness.decode import decode_one

    adapter = HFVideoAdapter(name="tiny-qwen", path=str(save_tiny_qwen25_vl(tmp_path / "qwen")), num_frames=8,
                             frame_size=(28, 28))
    decoded = decode_one("vfr", corpus["vfr"], adapter.frame_policy())
    meta = adapter.video_metadata(decoded.frames)
    assert meta["total_num_frames"] == 180 and meta["duration"] == pytest.approx(14.0, abs=0.1)
    timestamps = [i / meta["fps"] for i in meta["frames_indices"]]
    assert timestamps == pytest.approx(decoded.frames["times"]["temporal"], abs=0.5 / meta["fps"])
    batch = adapter._batch([McqRequest(prompt="What happens?", video=decoded.frames)])
    # temporal_patch_size / sampled fps (8 frames over 14 s); without the metadata Qwen assumes 24 fps (2/24 s)
    assert float(batch["second_per_grid_ts"][0]) == pytest.approx(2 / (8 / meta["duration"]), rel=1e-3)
