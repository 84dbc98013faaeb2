"""Where hf: weights go: one device per local rank, device_map sharding cut to each rank's GPUs, quantization only
with bitsandbytes (one-line errors otherwise). GPUs are simulated by patching torch.cuda's counts; the one model here is
a TINY RANDOM Qwen2.5-VL on the CPU (only placement and equal answers are checked)."""

import importlib.util
import subprocess
import sys

import pytest
import torch
from eval_helpers import build_bench, save_tiny_qwen25_vl

from mimic_eval.adapters.base import McqRequest
from mimic_eval.adapters.known_needs import UnmetNeed
from mimic_eval.adapters.placement import load_kwargs, parse_max_memory, rank_max_memory
from mimic_eval.adapters.registry import build_adapter
from mimic_eval.harness.sharding import rank_device, rank_gpus


def _local(monkeypatch, rank: int, world: int) -> None:
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(world))


def test_each_local_rank_gets_its_own_gpus(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert rank_gpus(4) == [0, 1, 2, 3] and rank_gpus(0) == []
    slices = []
    for rank in range(4):
        _local(monkeypatch, rank, 4)
        slices.append(rank_gpus(8))
    assert slices == [[0, 1], [2, 3], [4, 5], [6, 7]]  # 8 GPUs, 4 data-parallel ranks: a 2-GPU shard each
    _local(monkeypatch, 2, 3)
    assert rank_gpus(2) == [0]  # more ranks than GPUs share them round-robin


def test_rank_device_is_made_current_per_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert rank_device() == torch.device("cpu")
    current = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    _local(monkeypatch, 3, 4)
    assert rank_device() == torch.device("cuda", 6) and current == [6]  # not cuda:0 for every rank


def test_device_map_budget_is_cut_to_this_ranks_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    budget = {0: "10GiB", 1: "10GiB", 2: "20GiB", 3: "20GiB", "cpu": "50GiB"}
    _local(monkeypatch, 1, 2)
    assert rank_max_memory(budget) == {2: 20 * 2**30, 3: 20 * 2**30, "cpu": 50 * 2**30}
    assert budget[2] == "20GiB"  # the caller's dict is left alone
    _local(monkeypatch, 0, 1)
    assert rank_max_memory(budget) is budget  # alone on the machine: the budget as given


def test_load_kwargs_and_their_one_line_errors(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert load_kwargs() == {"device_map": {"": "cpu"}, "dtype": torch.float32}
    sharded = load_kwargs(dtype="bfloat16", device_map="auto", max_memory={0: "70GiB", "cpu": "100GiB"},
                          attn_implementation="sdpa")
    assert sharded == {"device_map": "auto", "max_memory": {0: "70GiB", "cpu": "100GiB"}, "dtype": torch.bfloat16,
                       "attn_implementation": "sdpa"}
    with pytest.raises(ValueError, match="--max-memory budgets a sharded model"):
        load_kwargs(max_memory={0: "1GiB"})
    with pytest.raises(ValueError, match="device_map must be one of"):
        load_kwargs(device_map="everywhere")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes"
                        else real_find_spec(name, *a))
    with pytest.raises(UnmetNeed, match=r"^--load-in-4bit needs the bitsandbytes package, which is not installed"):
        load_kwargs(quantization="4bit")
    assert parse_max_memory("0=70GiB, 1=70GiB,cpu=200GiB") == {0: "70GiB", 1: "70GiB", "cpu": "200GiB"}
    with pytest.raises(ValueError, match="not DEVICE=AMOUNT"):
        parse_max_memory("gpu0=70GiB")


def test_placement_options_belong_to_local_models():
    with pytest.raises(ValueError, match="device_map place hf: and mimic-chat: models, not openai:"):
        build_adapter("openai:m@http://127.0.0.1:9/v1", placement={"device_map": "auto"})
    with pytest.raises(ValueError, match="video_form apply to openai: models, not random:"):
        build_adapter("random:0", api={"video_form": "video_url"})


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    return save_tiny_qwen25_vl(tmp_path_factory.mktemp("qwen") / "model")


def test_device_map_auto_loads_and_answers_like_the_default_placement(qwen, monkeypatch):
    import transformers

    load = transformers.AutoModelForImageTextToText.from_pretrained
    asked = []
    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained",
                        lambda *a, **kw: asked.append(kw["device_map"]) or load(*a, **kw))
    video = {"spatial": torch.zeros(8, 56, 56, 3, dtype=torch.uint8),
             "temporal": torch.arange(4 * 56 * 56 * 3).reshape(4, 56, 56, 3).remainder(251).to(torch.uint8),
             "times": {"spatial": [0.5] * 8, "temporal": [0.5, 1.5, 2.5, 3.5], "duration_s": 4.0, "num_frames": 96}}
    request = [McqRequest("Pick one.\nA. a\nB. b\nC. c\nD. d", video)]
    whole = build_adapter(f"hf:{qwen}", num_frames=4, scoring="likelihood")
    sharded = build_adapter(f"hf:{qwen}", num_frames=4, scoring="likelihood", placement={"device_map": "auto"})
    assert asked == [{"": str(rank_device())}, "auto"]  # (on a CPU-only machine accelerate puts all on the CPU)
    assert sharded.identity() == whole.identity()  # placement does not change what the model is
    assert sharded.answer(request)[0].letter_scores == pytest.approx(whole.answer(request)[0].letter_scores, abs=1e-5)


def test_cli_quantization_without_bitsandbytes_is_one_line(qwen, tmp_path):
    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    bench = build_bench(tmp_path / "bench", n_videos=1, tasks=("cam_tag",))
    proc = subprocess.run([sys.executable, "-m", "mimic_cli", "eval", "run", "--model", f"hf:{qwen}", "--bench",
                           str(bench), "--out", str(tmp_path / "run"), "--load-in-4bit"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "mimic eval: error: --load-in-4bit needs the bitsandbytes package, which is not installed "
        "(pip install bitsandbytes)")
