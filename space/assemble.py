"""The Space repo folder, assembled from this folder (project-side helper, not shipped): the app files, a copy of the
model's frame sampler, the card, and the "Human or AI?" data.

The rounds pair real top-liked comments (the bench's `comment_generation` references) with comments that MIMIC-Chat
writes here, at release time, through the Space's own `comment_engine` (the code visitors run). Example videos are
rendered from the synthetic world when the bench folder has none (it ships no videos). The comment prompt per platform
is rendered here with the bench's prompt renderer, so the Space needs no copy of the project's packages.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq

from mimic_bench.prompts import render_comment_prompt
from mimic_cards import render_card
from mimic_data.io import atomic_write_json, atomic_write_text
from modeling_mimic_chat import frames_mimic_chat

from . import comment_engine, human_or_ai

SPACE_DIR = Path(__file__).resolve().parent
SPACE_FILES = ("app.py", "comment_engine.py", "human_or_ai.py", "requirements.txt")
DATA_DIR = "space_data"
GAME_SETTINGS = {"temperature": 0.9, "top_p": 0.95}


def _example_video(row: dict, bench_dir: Path, world_dir: Path | None, scratch: Path) -> Path:
    if row.get("file_name") and (bench_dir / row["file_name"]).is_file():
        return bench_dir / row["file_name"]
    if world_dir is None:
        raise FileNotFoundError(f"bench video {row['video_id']} has no file in {bench_dir} and no world folder was "
                                "given to render it from")
    from mimic_data.synth import render

    (path,) = render(world_dir, [row["video_id"]], scratch, progress=False)
    return Path(path)


def build_rounds(bench_dir: str | Path, model_dir: str | Path, out_dir: str | Path, *, world_dir: str | Path | None,
                 n_rounds: int = 3, n_real: int = 3, n_generated: int = 3, seed: int = 0) -> dict:
    """Write out_dir/rounds.json and out_dir/examples/<video_id>.mp4; return the rounds payload."""
    bench_dir, out_dir = Path(bench_dir), Path(out_dir)
    rows = sorted(pq.read_table(bench_dir / "comment_generation.parquet").to_pylist(), key=lambda r: r["question_id"])
    if not rows:
        raise ValueError(f"{bench_dir / 'comment_generation.parquet'} has no rows to build rounds from")
    chosen = random.Random(seed).sample(rows, min(n_rounds, len(rows)))
    engine = comment_engine.CommentEngine(str(model_dir), threads=1)  # a few short generations
    rounds = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, row in enumerate(chosen):
            source = _example_video(row, bench_dir, Path(world_dir) if world_dir else None, Path(scratch))
            example = out_dir / "examples" / f"{row['video_id']}.mp4"
            example.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, example)
            generated = engine.generate(engine.sample(example), render_comment_prompt(row), n_generated,
                                        seed=seed + index, **GAME_SETTINGS)
            comments = ([{"text": text, "source": human_or_ai.HUMAN} for text in row["references"][:n_real]]
                        + [{"text": text, "source": human_or_ai.MODEL} for text in generated])
            rounds.append({"video_id": row["video_id"], "platform": row["platform"],
                           "file": f"examples/{example.name}", "comments": comments})
    prompts = {}
    for row in rows:  # one prompt per platform serves uploads; the prompt carries no gold comment
        prompts.setdefault(row["platform"], render_comment_prompt(row))
    payload = {"seed": seed, "settings": GAME_SETTINGS, "prompts": prompts, "rounds": rounds}
    atomic_write_json(out_dir / human_or_ai.ROUNDS_FILE, payload)
    return payload


def space_card_context(org: str, payload: dict) -> dict:
    return {
        "gradio_version": version("gradio"), "model_repo": f"{org}/MIMIC-Chat", "bench_repo": f"{org}/MIMIC-Bench",
        "data_repo": f"{org}/MIMIC-Data", "n_examples": len(payload["rounds"]), "n_rounds": len(payload["rounds"]),
        "max_upload_mb": comment_engine.MAX_UPLOAD_MB, "max_duration_s": f"{comment_engine.MAX_DURATION_S:g}",
        "queue_size": comment_engine.QUEUE_SIZE,
    }


def build_space_folder(out: str | Path, *, bench_dir: str | Path, model_dir: str | Path, org: str,
                       world_dir: str | Path | None = None, seed: int = 0) -> Path:
    """Assemble the Space repo folder at `out` (rebuilt from scratch)."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in SPACE_FILES:
        shutil.copyfile(SPACE_DIR / name, out / name)
    shutil.copyfile(frames_mimic_chat.__file__, out / Path(frames_mimic_chat.__file__).name)
    atomic_write_text(out / "space_config.json", json.dumps({"model": f"{org}/MIMIC-Chat"}, indent=2) + "\n")
    payload = build_rounds(bench_dir, model_dir, out / DATA_DIR, world_dir=world_dir, seed=seed)
    atomic_write_text(out / "README.md", render_card("space.md", space_card_context(org, payload), kind="space"))
    return out
