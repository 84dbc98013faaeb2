"""Pretrained stand-ins for the demo's MIMIC-Chat, made offline from the synthetic world's training pool.

The paper composes MIMIC-Chat from a pretrained language model and a pretrained video tower and tunes it with LoRA. No
checkpoint can be downloaded here, so the demo first makes its own small ones, saved as ordinary transformers folders
that `mimic train init --lm LM --vision TOWER` (`sft.init_from_parts`) composes like any Hub checkpoint:

- language model: a `LlamaForCausalLM` of the tiny preset's shape with a byte-level BPE holding MIMIC-Chat's special
  tokens, trained with the SFT collator on text only, in the bench's own prompt formats: each training video's seven
  multiple-choice questions and its comment prompt, with the video slot holding the video's caption
  (`mimic_data.world.caption`). The loss is on the answers (letters, and the comments' words), as in SFT: the world's
  titles, descriptions, tags and topics are what it reads in the options. CAM-Cat comes first, until a held-out probe
  says it points at the option its slot names (`pretrain_language_model`).
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
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow.parquet as pq
import torch
from torch import nn

from mimic_data.io import atomic_write_json, file_sha256
from mimic_data.world import caption

LM_DIR, TOWER_DIR, SUMMARY_FILE = "lm", "tower", "standins.json"
TOWER_FACTS = ("scene", "colour", "shape", "motion1", "motion2", "highlight")
DEFAULT_CACHE = Path(".cache") / "standins"


@dataclass(frozen=True)
class StandinSettings:
    """Step counts fixed or set by a held-out probe (never a time budget), so the stand-ins are the same on any
    machine and under any load."""

    seed: int = 0
    vocab_size: int = 4000
    lm_batch_size: int = 16
    lm_learning_rate: float = 1e-3
    lm_rotations: int = 2  # each question shown under this many option rotations
    lm_probe_videos: int = 200  # training videos held out of the LM's rows to measure its learning curve
    lm_pointing_copy_share: float = 0.5  # pointing rows showing the answer's own words in the slot, not the caption
    lm_pointing_gate: float = 0.8  # held-out CAM-Cat letter accuracy that ends the pointing phase (ceiling ~0.9)
    lm_pointing_max_steps: int = 2000  # not pointing by then fails loudly: the SFT on top would stay at chance
    lm_probe_every: int = 100
    lm_reading_steps: int = 300  # then every format and the comments, captions in the slot
    tower_steps: int = 400
    tower_batch_size: int = 32
    tower_learning_rate: float = 1e-3


class StandinNotPointing(RuntimeError):
    """The stand-in LM did not learn to answer with the letter of the option its slot names."""


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
    rows = sft_rows(tables, comment_generation_table(records), dict.fromkeys(video_ids, ""), rotations)
    content = {row["video_id"]: row for row in pq.read_table(world_dir / "world.parquet").to_pylist()}
    return [{**row, "slot_text": caption(content[row["video_id"]])} for row in rows]


def probe_rows(world_dir: Path, video_ids: list[str], per_task: int, seed: int) -> list[dict]:
    """Held-out text questions (rotation 0, `per_task` of each MCQ task) for the stand-in LM's learning curve."""
    from mimic_bench.tasks import TASK_NAMES

    rows = _text_rows(world_dir, video_ids, 1, seed)
    return [row for task in TASK_NAMES for row in [r for r in rows if r["task"] == task][:per_task]]


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


def pointing_batch(cam_cat_rows: list[dict], size: int, copy_share: float, rng: random.Random) -> list[dict]:
    """A CAM-Cat batch; each row shows its answer's own words in the slot with probability `copy_share` (an exact
    match to find among the options), else the video's caption (the category among the scene's other words)."""
    return [{**row, "slot_text": row["answer_text"]} if rng.random() < copy_share else row
            for row in rng.sample(cam_cat_rows, size)]


def reading_batch(rows_by_task: dict[str, list[dict]], size: int, rng: random.Random) -> list[dict]:
    """A batch of one task (drawn in proportion to its rows): rows of one format pad little."""
    tasks = sorted(rows_by_task)
    task = rng.choices(tasks, weights=[len(rows_by_task[t]) for t in tasks])[0]
    return rng.sample(rows_by_task[task], min(size, len(rows_by_task[task])))


def pretrain_language_model(rows: list[dict], probe: list[dict], out_dir: Path, settings: StandinSettings) -> dict:
    """Train the stand-in LM on text rows and save it with its tokenizer to `out_dir`; returns its summary.

    A language model from random weights answers one constant letter for a long time when all seven formats come at
    once. So it first learns to point on CAM-Cat alone, whose one-word options follow the letter: it trains until its
    letter accuracy on held-out CAM-Cat questions reaches `lm_pointing_gate` (checked every `lm_probe_every` steps;
    when that happens depends on the initial draw, 600-1,000 steps in our probes), and raises `StandinNotPointing`
    after `lm_pointing_max_steps`. Then `lm_reading_steps` over every format and the comments. The loss is on the
    answers (letters, the comments' words), as in SFT. A plain loop, not `Trainer`: the gate decides the step count.
    """
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed

    from mimic_train.collator import SFTCollator
    from mimic_train.tokenizer import build_tokenizer
    from modeling_mimic_chat.export import build_processor

    texts = [row["prompt"] for row in rows] + [row["target"] for row in rows] + [row["slot_text"] for row in rows]
    tokenizer = build_tokenizer(texts, vocab_size=settings.vocab_size)
    config = _tiny_config(tokenizer)
    set_seed(settings.seed)
    model = LlamaForCausalLM(LlamaConfig(**config.text_config.to_dict()))
    collator = SFTCollator(build_processor(config, tokenizer), load_frames=None, max_length=1024)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lm_learning_rate, betas=(0.9, 0.95), weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 50))
    rng = random.Random(settings.seed)
    by_task: dict[str, list[dict]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    cam_cat_probe = [row for row in probe if row["task"] == "cam_cat"]
    losses, curve, started = [], {}, time.perf_counter()

    def train_on(batch: list[dict], step: int) -> None:
        loss = model(**collator(batch)).loss
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 50 == 0:
            losses.append((step, round(loss.item(), 4)))

    for step in range(1, settings.lm_pointing_max_steps + 1):
        train_on(pointing_batch(by_task["cam_cat"], settings.lm_batch_size, settings.lm_pointing_copy_share, rng), step)
        if step % settings.lm_probe_every == 0 or step == settings.lm_pointing_max_steps:
            curve[step] = letter_accuracy(model, collator, cam_cat_probe)
            print(f"     step {step}: held-out CAM-Cat letter accuracy {curve[step]['cam_cat']:.2f}", flush=True)
            if curve[step]["cam_cat"] >= settings.lm_pointing_gate:
                break
    else:
        raise StandinNotPointing(
            f"stand-in language model (seed {settings.seed}): held-out CAM-Cat letter accuracy "
            f"{curve[step]['cam_cat']:.2f} after {step} pointing steps, below the gate {settings.lm_pointing_gate}; "
            "a LoRA SFT on it would stay at chance. Try another --seed")
    pointing_steps = step
    curve[step] = letter_accuracy(model, collator, probe)
    for step in range(pointing_steps + 1, pointing_steps + settings.lm_reading_steps + 1):
        train_on(reading_batch(by_task, settings.lm_batch_size, rng), step)
    curve[step] = letter_accuracy(model, collator, probe)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {"steps": step, "pointing_steps": pointing_steps, "reading_steps": settings.lm_reading_steps,
            "rows": len(rows), "losses": losses, "wall_s": round(time.perf_counter() - started, 1),
            "parameters": model.num_parameters(),
            "heldout_letter_accuracy": {str(s): value for s, value in sorted(curve.items())}}


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
    """sha256 over what the stand-ins are made from: the world's files, the video ids, the settings and the code
    (this file, the world and the renderer: the tower learns from rendered pixels)."""
    import mimic_data.render
    import mimic_data.world

    parts = {"world": file_sha256(world_dir / "world.parquet"), "records": file_sha256(world_dir / "records.parquet"),
             "lm_ids": sorted(lm_ids), "tower_ids": sorted(tower_ids), "settings": asdict(settings),
             "code": [file_sha256(Path(path)) for path in (__file__, mimic_data.world.__file__, mimic_data.render.__file__)]}
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
    rows = _text_rows(world_dir, lm_ids, settings.lm_rotations, settings.seed)
    print(f"   stand-in language model: CAM-Cat until it points (held-out >= {settings.lm_pointing_gate}), then "
          f"{settings.lm_reading_steps} steps on {len(rows):,} text rows of {len(lm_ids):,} training videos", flush=True)
    probe = probe_rows(world_dir, sorted(held), per_task=40, seed=settings.seed)
    language = pretrain_language_model(rows, probe, building / LM_DIR, settings)
    summary = {"key": key, "settings": asdict(settings), "language_model": language, "vision_tower": tower}
    atomic_write_json(building / SUMMARY_FILE, summary)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, folder)
    return folder / LM_DIR, folder / TOWER_DIR, {**summary, "cached": False}
