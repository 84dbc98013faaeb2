"""Try a training curriculum on the demo's data and score the bench at chosen steps (the #6 study in train/README.md).

Needs a finished `make demo` (its world, rendered videos and bench). Each run builds its own SFT data and trains, both
as the demo config (train/configs/demo_scratch.yaml) says unless `mimic train sft` flags after OUT say otherwise (e.g.
`--warmup …`, `--epochs 2`, `--max_steps 1200`), and appends one JSON line per evaluation to `<out>/evals.jsonl`:
bench accuracy by letter likelihood with the video, with blank frames, and with the gold option's words in the video
slot ("text", the warm-up's format: does the LM point at the matching option at all?).

  .venv/bin/python scripts/curriculum_probe.py runs/probe/demo --model_name_or_path tiny --use_peft false \
      --freeze_language_model false --learning_rate 1e-3 --max_steps 2400 --train_sampling_strategy sequential \
      --warmup cam_cat:6400:1.0 cam_cat:6400:0.5 cam_cat,cam_topic,cam_tag:6400:0 --epochs 1 --eval-at 800,1200,2000

(the pre-#22 demo recipe: a random-init tiny LM trained in full; the demo now starts from pretrained stand-ins).

Evaluation pauses count against `max_train_minutes`, so the probe lifts that cap to 60 (`--max_train_minutes M`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from mimic_bench.prompts import gold_letter, render_mcq
from mimic_bench.scoring import score
from mimic_bench.tasks import LETTERS
from mimic_data.io import append_jsonl
from mimic_data.render import video_relpath
from mimic_eval.adapters.base import McqRequest, letter_token_ids
from mimic_eval.adapters.hf_vlm import MimicChatAdapter
from mimic_eval.harness.bench_io import load_task_rows
from mimic_eval.harness.decode import condition_frames
from mimic_train.collator import IGNORE_INDEX, SFTCollator, VideoFrameLoader
from mimic_train.sft import SCRATCH_CONFIG, build_trainer, parse_recipe
from mimic_train.sft_data import build_sft_data

BATCH = 32


@torch.inference_mode()
def text_slot_letters(model, collator: SFTCollator, questions: list[dict]) -> list[str]:
    """Letters picked with each question's gold option text in the video slot, encoded exactly as warm-up rows are."""
    letter_ids = letter_token_ids(collator.tokenizer)
    picks = []
    for question in questions:
        row = {"prompt": render_mcq(question, 0), "target": "", "slot_text": question["options"][question["answer_idx"]]}
        ids, labels = collator.encode(row)
        prompt = torch.tensor([ids[: labels.count(IGNORE_INDEX)]])  # the labels are -100 exactly on the prompt
        picks.append(LETTERS[int(model(input_ids=prompt).logits[0, -1, letter_ids].argmax())])
    return picks


def _sample(question: dict, letter: str | None, condition: str) -> dict:
    return {"question_id": question["question_id"], "video_id": question["video_id"], "task": question["task"],
            "gold": gold_letter(question, 0), "letter": letter, "rotation": 0, "condition": condition}


def evaluate(model, processor, questions: list[dict], videos_root: Path, collator: SFTCollator) -> dict:
    was_training = model.training
    adapter = MimicChatAdapter(name="probe", model=model, processor=processor, scoring="likelihood")
    loader = VideoFrameLoader(model.config)
    samples = []
    for start in range(0, len(questions), BATCH):
        batch = questions[start:start + BATCH]
        frames = [loader({"video_path": str(videos_root / video_relpath(q["platform"], q["video_id"]))}) for q in batch]
        for condition in ("video", "blank"):
            requests = [McqRequest(render_mcq(q, 0), condition_frames(f, condition))
                        for q, f in zip(batch, frames, strict=True)]
            answers = adapter.answer(requests)
            samples += [_sample(q, a.letter, condition) for q, a in zip(batch, answers, strict=True)]
    letters = text_slot_letters(model, collator, questions)
    samples += [_sample(q, letter, "text") for q, letter in zip(questions, letters, strict=True)]
    model.train(was_training)
    by = score(samples, n_bootstrap=0)["by_condition"]
    return {condition: {"overall": round(100 * result["overall"]["acc"], 1),
                        **{task: round(100 * r["acc"], 1) for task, r in result["per_task"].items()}}
            for condition, result in by.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("out", type=Path)
    parser.add_argument("--demo", type=Path, default=Path("runs/demo"))
    parser.add_argument("--eval-at", default="", help="comma-separated steps; the end of training is always scored")
    parser.add_argument("--config", default=str(SCRATCH_CONFIG), help="training config (data options included)")
    args, recipe_flags = parser.parse_known_args()  # the rest: `mimic train sft` flags, e.g. --warmup, --max_steps

    recipe = parse_recipe(["--config", args.config, "--max_train_minutes", "60", "--save_steps", "100000",
                           "--sft_data", str(args.out / "sft"), "--output_dir", str(args.out / "run"), *recipe_flags])
    build_sft_data(args.demo / "world", args.demo / "train" / "videos", recipe.script.sft_data,
                   bench_dir=args.demo / "bench" / "MIMIC-Bench", seed=recipe.training.seed,
                   **recipe.data.build_kwargs())
    questions = load_task_rows(args.demo / "bench" / "MIMIC-Bench")
    trainer = build_trainer(recipe)
    eval_steps = {int(step) for step in args.eval_at.split(",") if step}
    started = time.monotonic()

    class Probe(TrainerCallback):
        def report(self, state, model):
            scores = evaluate(model, trainer.processing_class, questions, args.demo / "rendered", trainer.data_collator)
            row = {"step": state.global_step, "elapsed_s": round(time.monotonic() - started, 1), **scores}
            append_jsonl(args.out / "evals.jsonl", row)
            print(json.dumps(row), flush=True)

        def on_step_end(self, _args, state, control, model=None, **kwargs):
            if state.global_step in eval_steps:
                self.report(state, model)

        def on_train_end(self, _args, state, control, model=None, **kwargs):
            self.report(state, model)

    trainer.add_callback(Probe())
    trainer.train()


if __name__ == "__main__":
    main()
