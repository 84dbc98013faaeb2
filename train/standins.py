"""Pretrained stand-ins for the demo's MIMIC-Chat, made offline from the synthetic world's training pool.

The paper composes MIMIC-Chat from a pretrained language model and a pretrained video tower and tunes it with LoRA. No
checkpoint can be downloaded here, so the demo first makes its own small ones, saved as ordinary transformers folders
that `mimic train init --lm LM --vision TOWER` (`sft.init_from_parts`) composes like any Hub checkpoint:

- language model: a `LlamaForCausalLM` of the tiny preset's shape with a byte-level BPE holding MIMIC-Chat's special
  tokens, trained with transformers' `Trainer` and the SFT collator on text only, in the bench's own prompt formats:
  each training video's seven multiple-choice questions and its comment prompt, with the video slot holding the video's
  caption
  (`mimic_data.world.caption`). The loss is on the answers (letters, and the comments' words), as in SFT: the world's
  titles, descriptions, tags and topics are what it reads in the options.
- vision tower: a `TimesformerModel` of the tiny preset's shape that learns the world's latent facts (scene, colour,
  shape, the two motions, which one glows) from pixels, through exactly the features MIMIC-Chat feeds its projectors
  (`pooled_tower_features`), with one linear head per fact; the heads are dropped when it is saved.

Both use training videos only (the bench's are never seen) and are cached under `<cache>/<content hash>/` (the hash
covers the world's files, the video ids, the settings and this file), so a second demo reuses them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow.parquet as pq
import torch
from torch import nn
from transformers import TrainerCallback

from mimic_data.io import atomic_write_json, file_sha256
from mimic_data.world import caption

LM_DIR, TOWER_DIR, SUMMARY_FILE = "lm", "tower", "standins.json"
TOWER_FACTS = ("scene", "colour", "shape", "motion1", "motion2", "highlight")
DEFAULT_CACHE = Path(".cache") / "standins"


@dataclass(frozen=True)
class StandinSettings:
    """Fixed step counts (never a time budget), so the stand-ins are the same on any machine."""

    seed: int = 0
    vocab_size: int = 4000
    lm_steps: int = 1200
    lm_copy_steps: int = 0  # CAM-Cat with the answer's own words in the slot first (the curriculum's block 1)
    lm_warmup_steps: int = 600  # CAM-Cat first: its one-word options teach "the letter of the option the slot names"
    lm_batch_size: int = 16
    lm_learning_rate: float = 1e-3
    lm_rotations: int = 2  # each question shown under this many option rotations
    lm_probe_videos: int = 200  # training videos held out of the LM's rows to measure its learning curve
    tower_steps: int = 500
    tower_batch_size: int = 32
    tower_learning_rate: float = 1e-3


def _tiny_config(tokenizer=None):
    from modeling_mimic_chat.configuration_mimic_chat import MimicChatConfig

    return MimicChatConfig.from_preset("tiny", tokenizer=tokenizer)


# ------------------------------------------------------------------------------------------------------ language model

def _text_rows(world_dir: Path, video_ids: list[str], rotations: int, seed: int) -> list[dict]:
    """The bench's prompts for these videos (distractors among them), the caption in the video slot."""
    from mimic_bench.build import build_task_tables, comment_generation_table, load_records
    from mimic_bench.embed import get_embedder
    from mimic_train.sft_data import sft_rows

    records = load_records(world_dir, video_ids)
    tables = build_task_tables(records, records, embedder=get_embedder("hashing"), seed=seed)
    return sft_rows(tables, comment_generation_table(records), dict.fromkeys(video_ids, ""), rotations)


def with_captions(world_dir: Path, rows: list[dict]) -> list[dict]:
    """The caption in every row's video slot, except rows that already show their answer's own words there."""
    content = {row["video_id"]: row for row in pq.read_table(world_dir / "world.parquet").to_pylist()}
    return [{**row, "slot_text": row.get("slot_text") or caption(content[row["video_id"]])} for row in rows]


def probe_rows(world_dir: Path, video_ids: list[str], per_task: int, seed: int) -> list[dict]:
    """Held-out text questions (rotation 0, `per_task` of each MCQ task) for the stand-in LM's learning curve."""
    from mimic_bench.tasks import TASK_NAMES

    rows = _text_rows(world_dir, video_ids, 1, seed)
    return with_captions(world_dir, [row for task in TASK_NAMES for row in
                                     [r for r in rows if r["task"] == task][:per_task]])


def letter_accuracy(model, collator, rows: list[dict]) -> dict[str, float]:
    """Per task, the share of rows whose gold letter has the highest logit among A-D at the answer position."""
    from mimic_eval.adapters.base import letter_token_ids, letters_from_logits

    letters = letter_token_ids(collator.tokenizer)
    hits: dict[str, list[bool]] = {}
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), 16):
            chunk = rows[start:start + 16]
            batch = collator(chunk)
            answer_at = (batch["labels"] != -100).int().argmax(dim=1) - 1  # the position that predicts the letter
            logits = model(input_ids=batch["input_ids"].to(model.device),
                           attention_mask=batch["attention_mask"].to(model.device)).logits
            answers = letters_from_logits(logits[torch.arange(len(chunk)), answer_at], letters)
            for row, answer in zip(chunk, answers, strict=True):
                hits.setdefault(row["task"], []).append(answer.letter == row["target"])
    model.train()
    return {task: round(sum(values) / len(values), 4) for task, values in hits.items()}


def language_rows(world_dir: Path, video_ids: list[str], settings: StandinSettings) -> list[dict]:
    """SFT-style rows (prompt, target, slot_text) of the training videos in training order: the bench's prompts with
    the caption in the video slot, CAM-Cat alone for the first `lm_warmup_steps`, then every row shuffled.

    A language model from random weights answers one constant letter for a long time when all seven formats come at
    once; on CAM-Cat alone it points at the option the slot names within a few hundred steps (85 % at step 600 in a
    probe), and the other formats build on that.
    """
    from mimic_train.sft_data import curriculum_order

    rows = _text_rows(world_dir, video_ids, settings.lm_rotations, settings.seed)
    batch = settings.lm_batch_size
    warmup = [(("cam_cat",), settings.lm_copy_steps * batch, 1.0)] if settings.lm_copy_steps else []
    warmup.append((("cam_cat",), settings.lm_warmup_steps * batch, 0.0))
    return with_captions(world_dir, curriculum_order(rows, warmup, epochs=1, seed=settings.seed))


class LetterProbe(TrainerCallback):
    """The stand-in LM's learning curve: `letter_accuracy` on held-out text questions at the given steps."""

    def __init__(self, collator, rows: list[dict], steps: set[int]):
        self.collator, self.rows, self.steps, self.curve = collator, rows, steps, {}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps:
            self.curve[state.global_step] = letter_accuracy(model, self.collator, self.rows)


def pretrain_language_model(rows: list[dict], probe: list[dict], out_dir: Path, settings: StandinSettings,
                            log_dir: Path) -> dict:
    """Train the stand-in LM on text rows (transformers' Trainer, the SFT collator); save it with its tokenizer to
    `out_dir`. `probe` rows (held-out videos) measure its per-task letter accuracy at the warm-up's end and every 600
    steps."""
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments, set_seed

    from mimic_train.collator import SFTCollator
    from mimic_train.tokenizer import build_tokenizer
    from modeling_mimic_chat.export import build_processor

    texts = [row["prompt"] for row in rows] + [row["target"] for row in rows] + [row["slot_text"] for row in rows]
    tokenizer = build_tokenizer(texts, vocab_size=settings.vocab_size)
    config = _tiny_config(tokenizer)
    set_seed(settings.seed)
    model = LlamaForCausalLM(LlamaConfig(**config.text_config.to_dict()))
    collator = SFTCollator(build_processor(config, tokenizer), load_frames=None, max_length=1024)
    args = TrainingArguments(
        output_dir=str(log_dir), max_steps=settings.lm_steps, per_device_train_batch_size=settings.lm_batch_size,
        learning_rate=settings.lm_learning_rate, lr_scheduler_type="cosine", warmup_steps=50, adam_beta2=0.95,
        weight_decay=0.01, max_grad_norm=1.0, logging_steps=50, save_strategy="no", report_to=[], seed=settings.seed,
        use_cpu=not torch.cuda.is_available(), remove_unused_columns=False, train_sampling_strategy="sequential",
    )
    warm_end = settings.lm_copy_steps + settings.lm_warmup_steps
    probe_steps = {settings.lm_copy_steps, warm_end, settings.lm_steps, *range(600, settings.lm_steps, 600)} - {0}
    curve = LetterProbe(collator, probe, probe_steps)
    # transformers' Trainer: the collator already gives SFT-shaped labels, and on a plain causal LM TRL's SFTTrainer
    # would add its chunked log-prob LM head and token metrics, nothing this small model needs.
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows), data_collator=collator,
                      processing_class=tokenizer, callbacks=[curve])
    started = time.perf_counter()
    result = trainer.train()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {"steps": trainer.state.global_step, "warmup_steps": settings.lm_warmup_steps, "rows": len(rows),
            "train_loss": result.training_loss,
            "losses": [(row["step"], row["loss"]) for row in trainer.state.log_history if "loss" in row],
            "wall_s": round(time.perf_counter() - started, 1), "parameters": model.num_parameters(),
            "heldout_letter_accuracy": {str(step): value for step, value in sorted(curve.curve.items())}}


# -------------------------------------------------------------------------------------------------------- vision tower

class TowerWithFactHeads(nn.Module):
    """The tower, pooled as MIMIC-Chat pools it, and one linear head per latent fact (dropped when saved)."""

    def __init__(self, config, classes: dict[str, list]):
        from transformers import AutoModel

        super().__init__()
        self.config = config
        self.tower = AutoModel.from_config(config.vision_config)
        width = config.vision_config.hidden_size * (config.num_spatial_tokens + config.num_temporal_tokens)
        self.heads = nn.ModuleDict({fact: nn.Linear(width, len(values)) for fact, values in classes.items()})

    def forward(self, pixel_values_videos, pixel_values_spatial) -> dict[str, torch.Tensor]:
        from modeling_mimic_chat.modeling_mimic_chat import pooled_tower_features

        spatial, temporal = pooled_tower_features(self.config, self.tower, pixel_values_videos, pixel_values_spatial)
        features = torch.cat([spatial.flatten(1), temporal.flatten(1)], dim=1)
        return {fact: head(features) for fact, head in self.heads.items()}


def pretrain_vision_tower(video_paths: dict[str, Path], content: dict[str, dict], out_dir: Path,
                          settings: StandinSettings) -> dict:
    """Train the stand-in tower on the rendered training videos; save it with a preprocessor_config.json."""
    from mimic_train.collator import VideoFrameLoader
    from modeling_mimic_chat.export import build_video_processor

    config = _tiny_config()
    ids = sorted(video_paths)
    loader = VideoFrameLoader(config, memoise=False)
    processor = build_video_processor(config)
    pixels = processor([loader({"video_path": str(video_paths[v])}) for v in ids], return_tensors="pt")
    classes = {fact: sorted({row[fact] for row in content.values()}) for fact in TOWER_FACTS}
    labels = {fact: torch.tensor([classes[fact].index(content[v][fact]) for v in ids]) for fact in TOWER_FACTS}
    torch.manual_seed(settings.seed)
    model = TowerWithFactHeads(config, classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.tower_learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.tower_learning_rate, settings.tower_steps,
                                                   pct_start=0.1)
    draw = torch.Generator().manual_seed(settings.seed)
    losses, started = [], time.perf_counter()
    for step in range(1, settings.tower_steps + 1):
        batch = torch.randint(0, len(ids), (settings.tower_batch_size,), generator=draw)
        logits = model(pixels["pixel_values_videos"][batch], pixels["pixel_values_spatial"][batch])
        loss = sum(nn.functional.cross_entropy(logits[fact], labels[fact][batch]) for fact in TOWER_FACTS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0:
            losses.append((step, round(loss.item(), 4)))
    model.eval()
    with torch.no_grad():
        logits = model(pixels["pixel_values_videos"], pixels["pixel_values_spatial"])
    accuracy = {fact: round((logits[fact].argmax(1) == labels[fact]).float().mean().item(), 4) for fact in TOWER_FACTS}
    model.tower.save_pretrained(out_dir)
    atomic_write_json(out_dir / "preprocessor_config.json",
                      {"image_mean": processor.image_mean, "image_std": processor.image_std})
    return {"steps": settings.tower_steps, "videos": len(ids), "losses": losses, "train_accuracy": accuracy,
            "wall_s": round(time.perf_counter() - started, 1),
            "parameters": sum(p.numel() for p in model.tower.parameters())}


# --------------------------------------------------------------------------------------------------------------- cache

def content_key(world_dir: Path, lm_ids: list[str], tower_ids: list[str], settings: StandinSettings) -> str:
    """sha256 over what the stand-ins are made from: the world's files, the video ids, the settings and the code."""
    import mimic_data.world

    parts = {"world": file_sha256(world_dir / "world.parquet"), "records": file_sha256(world_dir / "records.parquet"),
             "lm_ids": sorted(lm_ids), "tower_ids": sorted(tower_ids), "settings": asdict(settings),
             "code": [file_sha256(Path(__file__)), file_sha256(Path(mimic_data.world.__file__))]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def demo_standins(world_dir: str | Path, video_paths: dict[str, Path], cache_root: str | Path = DEFAULT_CACHE,
                  settings: StandinSettings = StandinSettings()) -> tuple[Path, Path, dict]:
    """(lm folder, tower folder, summary): built once per content hash under `cache_root`, then reused.

    The language model reads every training video's text (no rendering needed); the tower sees `video_paths`, the
    rendered training videos. A folder appears under its hash only when both are complete (built beside it, renamed).
    """
    from mimic_train.sft_data import training_video_ids

    world_dir = Path(world_dir)
    pool = training_video_ids(world_dir, seed=settings.seed)
    # A slice of the training pool is held out of the LM's rows to draw its learning curve (never a bench video).
    held = set(sorted(pool, key=lambda v: hashlib.sha256(f"{settings.seed}|lm-probe|{v}".encode()).hexdigest())[
        :settings.lm_probe_videos])
    lm_ids = [video for video in pool if video not in held]
    key = content_key(world_dir, lm_ids, list(video_paths), settings)
    folder = Path(cache_root) / key[:16]
    if (folder / SUMMARY_FILE).exists():
        return folder / LM_DIR, folder / TOWER_DIR, {**json.loads((folder / SUMMARY_FILE).read_text()), "cached": True}
    building = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    content = {row["video_id"]: row for row in pq.read_table(world_dir / "world.parquet").to_pylist()
               if row["video_id"] in video_paths}
    print(f"   stand-in vision tower: {settings.tower_steps} steps on {len(video_paths)} rendered training videos",
          flush=True)
    tower = pretrain_vision_tower(video_paths, content, building / TOWER_DIR, settings)
    rows = language_rows(world_dir, lm_ids, settings)
    print(f"   stand-in language model: {settings.lm_steps} steps on {len(rows):,} text rows of {len(lm_ids):,} "
          "training videos", flush=True)
    probe = probe_rows(world_dir, sorted(held), per_task=40, seed=settings.seed)
    language = pretrain_language_model(rows, probe, building / LM_DIR, settings, building / "lm-run")
    shutil.rmtree(building / "lm-run", ignore_errors=True)
    summary = {"key": key, "settings": asdict(settings), "language_model": language, "vision_tower": tower}
    atomic_write_json(building / SUMMARY_FILE, summary)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, folder)
    return folder / LM_DIR, folder / TOWER_DIR, {**summary, "cached": False}
