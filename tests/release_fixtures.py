"""A small demo folder for the release and Space tests, built with the project's own code.

Synthetic world -> selection -> MIMIC-Data release -> MIMIC-Bench build + release; a TINY RANDOM MIMIC-Chat (random
weights: its comments are noise, only the wiring matters); and small fixture run outputs (train_config.json from the training defaults, a train summary and a
leaderboard.md that a test wrote, marked as such).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from model_helpers import tiny_model, tiny_processor, tiny_tokenizer

from mimic_data.io import atomic_write_json, atomic_write_text, write_parquet

FIXTURE_LEADERBOARD = "| model | overall |\n|---|---|\n| fixture-model | 42.0 |\n"  # written by the test, not a run


def make_demo_dir(root: Path, n_world: int = 600, bench_size: int = 12, seed: int = 0) -> Path:
    from mimic_bench.release import release as release_bench
    from mimic_bench.writer import build_bench
    from mimic_data.release import release
    from mimic_data.select import SelectionConfig, select_splits
    from mimic_data.synth import synthesize
    from mimic_train.sft import parse_recipe, run_record
    from modeling_mimic_chat.export import save_for_hub

    world = synthesize(root / "world", n=n_world, seed=seed)
    records = pq.read_table(world / "records.parquet")
    splits = select_splits(records, SelectionConfig(bench_size=bench_size))
    write_parquet(world / "splits.parquet", splits)
    release(records, splits, root / "release" / "MIMIC-Data")

    # The bench engineer's builder and release, as `make demo` runs them (hashing embedder; no audit, for speed).
    build_bench(world, root / "bench" / "build", seed=seed, embedder="hashing")
    release_bench(root / "bench" / "build", root / "bench" / "MIMIC-Bench")

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    save_for_hub(model, tiny_processor(model, tokenizer), root / "model")
    atomic_write_json(root / "train" / "train_config.json",
                      run_record(parse_recipe(["--output_dir", str(root / "train")])))
    atomic_write_json(root / "train" / "train_summary.json", {"global_step": 7, "train_loss": 3.25, "wall_s": 1.5})
    atomic_write_text(root / "eval" / "mimic-chat" / "leaderboard.md", FIXTURE_LEADERBOARD)
    return root


def make_space_inputs(root: Path) -> tuple[Path, Path]:
    """(model folder, Space data folder) without the whole pipeline: a TINY RANDOM MIMIC-Chat, one synthetic example
    video (random frames) and one hand-made "Human or AI?" round whose texts the test knows."""
    import numpy as np

    from mimic_bench.prompts import render_comment_prompt
    from mimic_bench.tasks import COMMENT_INSTRUCTION
    from mimic_data.render import write_mp4
    from modeling_mimic_chat.export import save_for_hub

    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer)
    model_dir = save_for_hub(model, tiny_processor(model, tokenizer), root / "model")
    data = root / "space_data"
    frames = np.random.default_rng(0).integers(0, 256, (24, 48, 64, 3), dtype=np.uint8)
    write_mp4(frames, data / "examples" / "ex0.mp4", fps=8)
    comments = [{"text": "so cute!! watched it ten times lol", "source": "human"},
                {"text": "the cat jumps up onto a blue sofa", "source": "MIMIC-Chat"},
                {"text": "a red ball rolls left across the kitchen", "source": "human"}]
    prompts = {p: render_comment_prompt({"platform": p, "prompt": COMMENT_INSTRUCTION}) for p in ("youtube", "tiktok")}
    atomic_write_json(data / "rounds.json", {"seed": 0, "prompts": prompts, "rounds": [
        {"video_id": "ex0", "platform": "youtube", "file": "examples/ex0.mp4", "comments": comments}]})
    return model_dir, data
