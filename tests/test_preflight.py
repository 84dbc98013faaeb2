"""Pre-flight report over a corpus of bad files: each problem is named, nothing crashes.

Clips come from mimic_data.render.write_mp4; the rotated / variable-frame-rate / truncated variants are remuxes of a
good clip (packets copied, timestamps or display matrix changed), the audio-only file is a tiny AAC encode. Other
containers, misnamed files and the sampler side: tests/test_real_videos.py."""

import json

import av
import numpy as np
import pytest

from mimic_cli import main
from mimic_data.hydrate.preflight import BLOCKING, preflight, probe_video
from mimic_data.render import write_mp4


def _frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 32, 48, 3), dtype=np.uint8)


def _remux(src, dst, *, warp=None, rotation=None, faststart=False):
    """Copy packets into a new mp4; `warp` maps timestamps (monotonic, so pts >= dts still holds)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        if rotation:
            stream_out.set_display_rotation(rotation)
        for packet in inp.demux(stream_in):
            if packet.dts is None:
                continue
            if warp:
                packet.pts, packet.dts = warp(packet.pts), warp(packet.dts)
            packet.stream = stream_out
            out.mux(packet)
    return dst


def _audio_only(path):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        t = np.arange(16000, dtype=np.float32) / 16000
        samples = (0.2 * np.sin(2 * np.pi * 440 * t)).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    videos = root / "videos" / "youtube" / "ab"
    good = write_mp4(_frames(24), videos / "good.mp4", fps=8)
    write_mp4(_frames(4, 1), videos / "short.mp4", fps=8)
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "garbage.mp4").write_bytes(np.random.default_rng(2).integers(0, 255, 3000, dtype=np.uint8).tobytes())
    faststart = _remux(good, root / "faststart.mp4", faststart=True)
    data = faststart.read_bytes()
    (videos / "truncated.mp4").write_bytes(data[: int(len(data) * 0.6)])
    _remux(good, videos / "rotated.mp4", rotation=90)
    middle = 12 * 16384 // 8  # write_mp4's time base is 1/16384: half-way through 24 frames at 8 fps

    def slow_second_half(t):
        return t if t < middle else middle + 2 * (t - middle)

    _remux(good, videos / "vfr.mp4", warp=slow_second_half)
    _audio_only(videos / "audio.mp4")
    return root


EXPECTED = {
    "good": set(), "short": {"too_short"}, "empty": {"zero_byte"}, "garbage": {"undecodable"},
    "truncated": {"truncated"}, "rotated": set(), "vfr": {"variable_frame_rate"}, "audio": {"audio_only"},
    "missing": {"missing"},
}


def test_preflight_names_every_problem(corpus):
    expected_paths = ["videos/youtube/ab/missing.mp4"]
    report = preflight(corpus, expected_paths, min_duration_s=1.0)
    found = {row["relpath"].rsplit("/", 1)[-1][:-4]: set(row["problems"]) for row in report["files"]}
    assert found == EXPECTED
    assert report["n_files"] == len(EXPECTED) and report["n_ok"] == 2  # good, and rotated: the sampler applies it
    assert report["n_blocking"] == sum(bool(BLOCKING & problems) for problems in EXPECTED.values()) == 5
    assert report["problems"]["truncated"] == 1


def test_probe_reports_facts_of_a_good_file(corpus):
    row = probe_video(corpus / "videos/youtube/ab/good.mp4")
    assert row["problems"] == []
    assert (row["width"], row["height"], row["num_frames"], row["vcodec"]) == (48, 32, 24, "h264")
    assert row["fps"] == pytest.approx(8.0) and row["duration_s"] == pytest.approx(3.0)
    rotated = probe_video(corpus / "videos/youtube/ab/rotated.mp4")
    assert rotated["rotation"] == 90 and (rotated["width"], rotated["height"]) == (32, 48)  # the displayed size


def test_preflight_cli_writes_json_and_never_crashes(corpus, tmp_path, capsys):
    out = tmp_path / "preflight.json"
    assert main(["hydrate", "preflight", str(corpus), "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["n_files"] == len(EXPECTED) - 1  # no manifest here, so nothing is known to be missing
    assert "zero_byte" in capsys.readouterr().out


def test_preflight_cli_refuses_a_folder_without_videos_in_one_line(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["hydrate", "preflight", str(tmp_path)])
    assert str(info.value) == f"mimic hydrate preflight: {tmp_path}: no videos/ folder and no videos.parquet manifest to check"
