"""The eight transformers video-VLM families through `mimic eval run` (hf: adapter, real sampler on a real mp4), each a
TINY RANDOM model built here from its config classes with a local tokenizer and processor (tests/tiny_vlms.py, no hub).
Random weights: only what reaches the model is checked (video, blank and blind differ; frame times arrive where the
family uses them; the per-family needs fail in one line), never the answers."""

import re

import pytest
from eval_helpers import build_bench
from tiny_vlms import BUILDERS
from transformers import VideoLlavaConfig

from mimic_data.io import read_jsonl
from mimic_eval.adapters.base import McqRequest
from mimic_eval.adapters.known_needs import KNOWN_NEEDS, UnmetNeed, needs_of
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.runner import RunOptions, run_eval

CONDITIONS = ["video", "blank", "blind"]
PIXEL_KEYS = ("pixel_values_videos", "pixel_values")  # SmolVLM and InternVL put video frames in pixel_values


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_bench(tmp_path_factory.mktemp("bench"), n_videos=1, tasks=("cam_tag",))  # 24 frames at 8 fps


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def evaluated(request, bench, tmp_path_factory):
    """One arch evaluated on one question under three conditions, with every model input recorded."""
    arch = request.param
    folder = BUILDERS[arch](tmp_path_factory.mktemp(arch) / "model")
    adapter = build_adapter(f"hf:{folder}", num_frames=4, scoring="likelihood")
    seen = []
    batch_of = adapter._batch

    def recording_batch(requests):
        batch = batch_of(requests)
        seen.append((requests[0].video, batch))
        return batch

    adapter._batch = recording_batch
    summary = run_eval(adapter, bench, tmp_path_factory.mktemp(f"{arch}-run"),
                       RunOptions(tasks=["cam_tag"], conditions=CONDITIONS, progress=False))
    return arch, adapter, summary, seen


def _pixels(batch):
    return next((batch[key] for key in PIXEL_KEYS if key in batch), None)


def test_video_blank_and_blind_reach_the_model_differently(evaluated):
    arch, adapter, summary, seen = evaluated
    assert summary["telemetry"]["samples"] == 3 and summary["telemetry"]["errors"] == 0
    assert adapter.model.config.model_type == arch
    video, blank, blind = (batch for _, batch in seen)  # the runner asks the conditions in the order given
    assert _pixels(blind) is None and blind["input_ids"].shape[1] < video["input_ids"].shape[1]
    assert _pixels(video).shape == _pixels(blank).shape
    assert float(_pixels(video).float().std()) > 0.05 and not _pixels(video).equal(_pixels(blank))
    assert len(set(_pixels(blank).flatten().tolist())) <= 4  # black frames: a constant (plus padding) per channel
    rows = list(read_jsonl(f"{summary['run_dir']}/samples.jsonl"))
    assert sorted(r["condition"] for r in rows) == sorted(CONDITIONS)
    assert len({tuple(r["letter_scores"]) for r in rows}) == 3  # three conditions, three next-token distributions


def test_frame_times_arrive_where_the_family_places_frames_in_time(evaluated):
    arch, adapter, _, seen = evaluated
    if not needs_of(arch).frame_times:
        pytest.skip(f"{arch}'s processor takes no frame times")
    video, batch = seen[0]
    times = video["times"]
    sampled, duration = times["temporal"], times["duration_s"]
    assert sampled == pytest.approx([0.375, 1.125, 1.875, 2.625]) and duration == pytest.approx(3.0)
    text = adapter.processor.tokenizer.decode(batch["input_ids"][0])
    if arch == "qwen2_5_vl":  # temporal patch (2 frames) / sampled rate; 2/24 s if the default 24 fps were assumed
        assert float(batch["second_per_grid_ts"][0]) == pytest.approx(2 * duration / len(sampled), rel=1e-3)
    elif arch == "qwen3_vl":  # each frame pair labelled with its mean time
        labels = [float(t) for t in re.findall(r"<([\d.]+) seconds>", text)]
        assert labels == pytest.approx([(sampled[0] + sampled[1]) / 2, (sampled[2] + sampled[3]) / 2], abs=0.06)
    elif arch == "smolvlm":  # whole seconds per frame and the clip's duration
        assert re.findall(r"Frame from (\d\d:\d\d)", text) == [f"00:{int(t):02d}" for t in sampled]
        assert "0:00:03 [H:MM:SS] video" in text
    else:
        raise AssertionError(f"{arch} is marked frame_times in KNOWN_NEEDS; add its check here")
    untimed = {key: value for key, value in video.items() if key != "times"}
    with pytest.raises(ValueError, match="carries no frame times"):
        adapter._batch([McqRequest("Pick one.", untimed)])


def test_every_family_with_known_needs_is_built_here():
    assert {"qwen2_5_vl", "qwen3_vl", "smolvlm", "video_llava"} <= set(KNOWN_NEEDS)
    assert set(KNOWN_NEEDS) - {"qwen3_vl_moe"} <= set(BUILDERS)


def test_unmet_needs_fail_in_one_line_before_the_weights_load(tmp_path, monkeypatch):
    VideoLlavaConfig().save_pretrained(tmp_path / "video-llava")  # a config alone: no weights needed to refuse
    with pytest.raises(UnmetNeed, match=r"video_llava\) takes 1-8 frames per video .* got --num-frames 16$"):
        build_adapter(f"hf:{tmp_path / 'video-llava'}", num_frames=16)
    from transformers import Qwen3VLConfig, SmolVLMConfig

    Qwen3VLConfig().save_pretrained(tmp_path / "qwen3")
    with pytest.raises(UnmetNeed, match=r"qwen3_vl\) takes at least 2 frames"):
        build_adapter(f"hf:{tmp_path / 'qwen3'}", num_frames=1)
    SmolVLMConfig().save_pretrained(tmp_path / "smol")
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "num2words"
                        else real_find_spec(name, *a))
    with pytest.raises(UnmetNeed, match=r"smolvlm\) needs num2words, which is not installed \(pip install num2words"):
        build_adapter(f"hf:{tmp_path / 'smol'}", num_frames=8)
