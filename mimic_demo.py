"""`mimic demo`: the main job end to end on the embedded synthetic world, offline.

Each stage writes under one folder (default runs/demo) and the stage timings go to `demo_timings.json`, so the figures
in the README come from a file the run wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

DEMO_WORLD_SIZE = 4000
DEMO_BENCH_SIZE = 120
DEMO_SEED = 0


def _stage_data(out: Path, state: dict) -> None:
    import pyarrow.parquet as pq

    from mimic_data.release import release
    from mimic_data.synth import RECORDS_FILE, SPLITS_FILE, synthesize_with_splits

    world = synthesize_with_splits(out / "world", n=DEMO_WORLD_SIZE, seed=DEMO_SEED, bench_size=DEMO_BENCH_SIZE)
    release(pq.read_table(world / RECORDS_FILE), pq.read_table(world / SPLITS_FILE), out / "release" / "MIMIC-Data")
    state["world"] = world


def build_demo_bench(world_dir: str | Path, out_dir: str | Path, seed: int = DEMO_SEED,
                     train_videos: int = 1000) -> dict[str, Path]:
    """Build, audit and release the bench of a synthetic world (world_dir holds records.parquet + splits.parquet).

    The demo uses the hashing embedder (seconds instead of minutes on a CPU); `mimic bench build` defaults to MiniLM.
    """
    from mimic_bench.audit import audit
    from mimic_bench.embed import get_embedder
    from mimic_bench.release import release
    from mimic_bench.writer import build_bench

    out_dir = Path(out_dir)
    bench_dir, release_dir = out_dir / "build", out_dir / "MIMIC-Bench"
    build_bench(world_dir, bench_dir, seed=seed, embedder="hashing")
    audit(bench_dir, world_dir, get_embedder("hashing"), seed=seed, train_videos=train_videos)
    release(bench_dir, release_dir)
    return {"bench": bench_dir, "audit": bench_dir / "audit.json", "release": release_dir}


def _stage_bench(out: Path, state: dict) -> None:
    state["bench"] = build_demo_bench(state["world"], out / "bench")["release"]


def _stage_hydrate(out: Path, state: dict) -> None:
    """Render the bench videos, serve them on loopback and hydrate a copy of the released bench through yt-dlp."""
    import shutil

    import pyarrow.parquet as pq
    from datasets import load_dataset

    from mimic_data.hydrate.loopback import hydrate_demo_bench
    from mimic_data.synth import render

    bench_ids = pq.read_table(state["bench"] / "videos.parquet", columns=["video_id"])["video_id"].to_pylist()
    render(state["world"], bench_ids, out / "rendered")
    hydrated = out / "eval" / "MIMIC-Bench"
    if not hydrated.exists():
        shutil.copytree(state["bench"], hydrated)
    report = hydrate_demo_bench(hydrated, out / "rendered")
    loaded = load_dataset(str(hydrated), "cam_cat", split="test")
    present = sum(v is not None for v in loaded["video"])
    print(f"   hydrated: {report['by_status']}, available ids sha256 {report['available_ids_sha256'][:12]}")
    print(f"   load_dataset(cam_cat) has a Video column: {present}/{len(loaded)} rows with a video")
    state["hydrated"] = hydrated


def _stage_train(out: Path, state: dict) -> None:
    from mimic_train.sft import train_demo_model

    state["model"] = train_demo_model(state["world"], state["bench"], out / "train", seed=DEMO_SEED)


def _stage_eval(out: Path, state: dict) -> None:
    """Random, then MIMIC-Chat under video, blank and blind (its Blind column), letter-likelihood scoring."""
    from mimic_eval.adapters.registry import build_adapter
    from mimic_eval.harness.runner import RunOptions, run_eval
    from mimic_eval.leaderboard import write_leaderboard

    runs = out / "eval" / "runs"
    run_eval(build_adapter("random:0", name="Random"), state["hydrated"], runs / "random",
             RunOptions(conditions=["video"], progress=False))
    adapter = build_adapter(f"mimic-chat:{state['model']}", name="MIMIC-Chat-tiny", scoring="likelihood", batch_size=8)
    run_eval(adapter, state["hydrated"], runs / "MIMIC-Chat-tiny", RunOptions(conditions=["video", "blank", "blind"]))
    write_leaderboard([runs / "random", runs / "MIMIC-Chat-tiny"], out / "eval")
    print((out / "eval" / "leaderboard.md").read_text())


def _stage_study(out: Path, state: dict) -> None:
    from mimic_bench.writer import default_study_pool_dir
    from mimic_eval.adapters.base import GenerationSettings
    from mimic_eval.adapters.registry import build_adapter
    from mimic_eval.harness.generate import generate_comments
    from mimic_eval.study.sheet import build_sheet

    settings = GenerationSettings(max_new_tokens=24, do_sample=True, temperature=0.8, top_p=0.95, seed=DEMO_SEED)
    generations = out / "study" / "generations" / "mimic-chat-tiny.jsonl"
    generate_comments(build_adapter(f"mimic-chat:{state['model']}", name="MIMIC-Chat-tiny"), state["hydrated"],
                      generations, settings)
    # The real comments come from the private pool the bench build held out (out/bench/build-study-pool).
    build_sheet(state["hydrated"], [generations], out / "study" / "sheet", seed=DEMO_SEED, n_videos=40,
                pool_dir=default_study_pool_dir(out / "bench" / "build"))


def _stage_release(out: Path, state: dict) -> None:
    from mimic_release import release_all

    release_all(out, out / "release", data_dir=out / "release" / "MIMIC-Data", bench_dir=state["bench"],
                model_dir=state["model"], world_dir=state["world"], train_dir=out / "train" / "run",
                eval_dir=out / "eval", seed=DEMO_SEED)


STAGES: list[tuple[str, Callable[[Path, dict], None]]] = [
    ("data: synth -> select -> release", _stage_data),
    ("bench: build -> audit -> release", _stage_bench),
    ("hydrate: render -> loopback server -> yt-dlp -> load_dataset", _stage_hydrate),
    ("train: stand-in LM + video tower (cached) -> compose -> LoRA SFT (TRL) -> export", _stage_train),
    ("eval: random, MIMIC-Chat (video, blank, blind) -> leaderboard", _stage_eval),
    ("study: generate comments -> blind-test sheet", _stage_study),
    ("release: four Hub folders, validated", _stage_release),
]


def run_demo(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    state: dict = {}
    timings = {}
    for name, stage in STAGES:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        stage(out, state)
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"   done in {timings[name]:.1f} s", flush=True)
    timings["total"] = round(sum(timings.values()), 2)
    from mimic_data.io import atomic_write_json

    atomic_write_json(out / "demo_timings.json", timings)
    return timings


def _handler(args) -> None:
    timings = run_demo(Path(args.out))
    print(json.dumps(timings, indent=2))


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on the synthetic world (offline)")
    parser.add_argument("--out", default="runs/demo")
    parser.set_defaults(handler=_handler)
