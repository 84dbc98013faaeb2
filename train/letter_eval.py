"""Training-side check of an exported MIMIC-Chat on a MIMIC-Bench folder: letter likelihood, video vs blanked video.

For each MCQ question (rotation 0) the prompt is the bench's `render_mcq`, the model's next-token logits over the four
letters pick the answer, and `mimic_bench.scoring.score` computes the metrics. `blank` feeds all-black frames of the same
shape, so the gap measures what the model takes from the video. The evaluation harness (`mimic eval run`) is the
reference; this check is what training uses to prove a run learned, without the harness's caching and logging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch

from mimic_bench.prompts import gold_letter, render_mcq
from mimic_bench.scoring import score
from mimic_bench.tasks import LETTERS, TASK_NAMES
from mimic_data.io import atomic_write_json
from mimic_data.render import video_relpath
from mimic_train.collator import user_turn
from mimic_train.frames import VideoFrameLoader
from mimic_train.model_init import load_mimic_chat

CONDITIONS = ("video", "blank")


def _questions(bench_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for task in TASK_NAMES:
        path = bench_dir / f"{task}.parquet"
        if path.exists():
            rows += pq.read_table(path).to_pylist()
    if not rows:
        raise FileNotFoundError(f"{bench_dir} holds no MCQ task parquet")
    return rows


@torch.no_grad()
def letter_eval(model_dir: str | Path, bench_dir: str | Path, videos_root: str | Path, out_json: str | Path | None = None,
                batch_size: int = 32, conditions=CONDITIONS) -> dict[str, Any]:
    """Score the model under each condition; writes `out_json` (per-task accuracy, overall, blank gap) if given."""
    model, processor = load_mimic_chat(model_dir)
    model.eval()
    tokenizer = processor.tokenizer
    letter_ids = [tokenizer(letter, add_special_tokens=False)["input_ids"][0] for letter in LETTERS]
    loader = VideoFrameLoader(model.config)
    questions = _questions(Path(bench_dir))
    samples = []
    for start in range(0, len(questions), batch_size):
        batch = questions[start:start + batch_size]
        texts = [user_turn(processor, render_mcq(q, 0)) for q in batch]
        frames = [loader({"video_path": str(Path(videos_root) / video_relpath(q["platform"], q["video_id"]))})
                  for q in batch]
        for condition in conditions:
            shown = frames if condition == "video" else [{k: torch.zeros_like(v) for k, v in f.items()} for f in frames]
            inputs = processor(text=texts, videos=shown, padding_side="left")
            logits = model(**inputs).logits[:, -1, letter_ids]
            for question, pick in zip(batch, logits.argmax(-1).tolist(), strict=True):
                samples.append({"question_id": question["question_id"], "video_id": question["video_id"],
                                "task": question["task"], "gold": gold_letter(question, 0), "letter": LETTERS[pick],
                                "rotation": 0, "condition": condition})
    result = score(samples, n_bootstrap=200)
    by = result.get("by_condition", {conditions[0]: result})
    summary = {
        "model": str(model_dir), "bench": str(bench_dir), "questions": len(questions), "mode": "letter_likelihood",
        **{f"overall_{c}": by[c]["overall"]["acc"] for c in conditions},
        "per_task": {t: {c: by[c]["per_task"][t]["acc"] for c in conditions} for t in by[conditions[0]]["per_task"]},
    }
    if "video" in by and "blank" in by:
        summary["blank_drop_points"] = 100 * (by["video"]["overall"]["acc"] - by["blank"]["overall"]["acc"])
    if out_json is not None:
        atomic_write_json(out_json, summary)
    return summary
