"""The MIMIC-Chat SFT recipe on one page: TRL `SFTTrainer`, optional peft LoRA, and the video collator.

A run's arguments are five dataclasses, read by `trl.TrlParser` from a flat YAML file (`--config`, see `configs/`)
and then from command-line flags (`--learning_rate 3e-4`); a flag wins over the file:

    ScriptArguments  the SFT data folder the run reads, a wall-clock cap, resume
    DataArguments    how `mimic train data` (and the demo) build that folder from the training pool
    ModelArguments   the start: a preset with random weights or a MIMIC-Chat folder (`mimic train init` composes one
                     from a pretrained LM and vision tower); vocabulary, fusion, freezing, dtype, attention
    LoraArguments    peft LoRA on the language model's attention (TRL's `use_peft` / `lora_*` names)
    MimicSFTConfig   `trl.SFTConfig` with this project's defaults

`run_sft` fills `output_dir` with `base/` (the start, saved once; resume and export reload it), `checkpoint-*/`,
`final/`, `train_config.json` (every setting), `train_log.jsonl` (a line per logging step) and `train_summary.json`.

    mimic train sft --config train/configs/demo_standins.yaml --sft_data SFT --output_dir RUN [--learning_rate 3e-4]
"""

import json
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from peft import LoraConfig
from transformers import PreTrainedTokenizerFast, TrainerCallback, set_seed
from transformers.trainer_utils import SchedulerType
from trl import SFTConfig, SFTTrainer, TrlParser

from mimic_data.io import append_jsonl, atomic_write_json
from mimic_train.collator import SFTCollator, VideoFrameLoader
from mimic_train.sft_data import SFT_FILE, build_sft_data, parse_warmup_block
from mimic_train.tokenizer import add_special_tokens, build_tokenizer
from modeling_mimic_chat.configuration_mimic_chat import PRESETS, MimicChatConfig
from modeling_mimic_chat.export import build_processor, save_for_hub
from modeling_mimic_chat.modeling_mimic_chat import MimicChatForConditionalGeneration, count_parameters

CONFIG_FILE = "train_config.json"  # every setting of the run, in the layout that model cards and README tables read
LOG_FILE = "train_log.jsonl"  # one line per logging step, appended (the learning curve)
SUMMARY_FILE = "train_summary.json"
BASE_DIR = "base"  # the start of the run, a loadable MIMIC-Chat folder
FINAL_DIR = "final"
DEMO_CONFIG = Path(__file__).with_name("configs") / "demo_standins.yaml"  # the paper's recipe on CPU stand-ins
SCRATCH_CONFIG = Path(__file__).with_name("configs") / "demo_scratch.yaml"  # the earlier random-start recipe
STANDINS_FILE = "standins.json"  # the demo's stand-in LM and tower: steps, losses, times, parameters
START_DIR = "start"  # the demo's composed MIMIC-Chat before SFT
# The tiny preset's MIMIC-Chat fields (frame counts, pooling, initialisation) for a start composed from stand-ins.
TINY_COMPOSITION = {key: value for key, value in PRESETS["tiny"].items() if key not in ("text_config", "vision_config")}


# ---------------------------------------------------------------------------------------------------------- arguments

@dataclass
class ScriptArguments:
    """What the run reads, how long it may take, and whether it resumes."""

    sft_data: str | None = field(default=None, metadata={
        "help": "Folder written by `mimic train data` (train.parquet). Required."})
    max_train_minutes: float | None = field(default=None, metadata={
        "help": "Wall-clock cap: when it is reached, training saves a checkpoint and the run FAILS (one line, exit 1) "
                "instead of returning a model cut short; rerunning resumes. The schedule is set by max_steps / "
                "num_train_epochs, so results never depend on machine load."})
    no_resume: bool = field(default=False, metadata={
        "help": "Start from step 0 even if output_dir holds checkpoints. By default a run resumes from "
                "resume_from_checkpoint, or else from the latest checkpoint-* of output_dir."})


@dataclass
class DataArguments:
    """How the SFT data is built from the training pool (`mimic train data`; the demo reads them from its YAML)."""

    max_videos: int = field(default=0, metadata={"help": "Use at most this many training videos (0: all)."})
    rotations: int = field(default=1, metadata={"help": "Show each MCQ under this many of its 4 option rotations."})
    comment_targets: int = field(default=1, metadata={"help": "Top-liked real comments used as targets per video."})
    warmup: list[str] = field(default_factory=list, metadata={
        "help": "Curriculum blocks written first, each TASK[,TASK...]:ROWS[:SHARE]: e.g. cam_cat:6400:1 (every row "
                "shows its answer text in the video slot) or cam_cat,ciu_title:9600:0.5 (half of them)."})
    epochs: int = field(default=0, metadata={
        "help": "Write the rows in training order: the warm-up blocks, then this many shuffled passes over every "
                "row (read them with train_sampling_strategy sequential). 0 without warm-up: unordered rows."})

    def __post_init__(self):
        self.build_kwargs()  # a malformed block fails here, not after the videos are rendered

    def build_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `sft_data.build_sft_data`."""
        return {**asdict(self), "warmup": [parse_warmup_block(block) for block in self.warmup]}


class InitError(ValueError):
    """A start the run cannot load; the message is one line that names the fix."""


def check_init(init: str) -> None:
    """Refuse a `model_name_or_path` that is neither a preset nor a saved MIMIC-Chat folder (never a silent random
    model): a missing path, or a folder of another model (e.g. the LM or tower checkpoint itself)."""
    if init in PRESETS:
        return
    compose = "compose one with `mimic train init --lm LM --vision TOWER --out DIR` and pass DIR"
    config_file = Path(init) / "config.json"
    if not config_file.is_file():
        raise InitError(f"model_name_or_path {init!r} is not a folder with a config.json: name a preset "
                        f"({', '.join(PRESETS)}: random weights) or a MIMIC-Chat folder ({compose})")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type != MimicChatConfig.model_type:
        raise InitError(f"model_name_or_path {init!r} holds a {model_type!r} checkpoint, not a MIMIC-Chat folder: "
                        f"{compose}")


DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class ModelArguments:
    """The model a run starts from; it is saved once as `<output_dir>/base`."""

    model_name_or_path: str = field(default="tiny", metadata={
        "help": f"A preset ({', '.join(PRESETS)}: an explicit random start, with a byte-level BPE trained on the SFT "
                "texts) or a MIMIC-Chat folder (`mimic train init --lm LM --vision TOWER --out DIR` composes one from "
                "pretrained checkpoints). Anything else is refused."})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = field(default="auto", metadata={
        "help": "Weights dtype of the start, kept in <output_dir>/base (bf16 stays bf16): auto = a folder's saved "
                "dtype, float32 for a preset. Independent of `bf16` (autocast)."})
    attn_implementation: str | None = field(default=None, metadata={
        "help": "Attention kernel of the language model (sdpa, flash_attention_2, eager); the vision tower uses it "
                "when it has one, else eager (TimeSformer). Default: transformers' choice (sdpa where possible)."})
    vocab_size: int = field(default=4000, metadata={
        "help": "Tokenizer size for a preset start (a small corpus may give fewer tokens)."})
    fusion_mode: Literal["token_gate", "xattn_gate"] = field(default="token_gate", metadata={
        "help": "How video tokens enter the language model (preset start). xattn_gate trains with use_peft false."})
    freeze_vision: bool = field(default=True, metadata={"help": "Keep the vision tower frozen."})
    freeze_language_model: bool = field(default=True, metadata={
        "help": "Keep the language model's own weights frozen (LoRA adapters still train)."})
    model_overrides: dict[str, Any] | str = field(default_factory=dict, metadata={
        "help": "Extra MimicChatConfig.from_preset arguments; text_config / vision_config mappings merge (a JSON "
                "object on the command line)."})

    def __post_init__(self):
        if isinstance(self.model_overrides, str):
            self.model_overrides = json.loads(self.model_overrides)
        check_init(self.model_name_or_path)


@dataclass
class LoraArguments:
    """peft LoRA: adapters on the LM's attention projections; projectors and token gate trained in full."""

    use_peft: bool = field(default=True, metadata={
        "help": "Train LoRA adapters (false: every parameter that is not frozen trains in full)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (the adapters are scaled by alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA inputs."})
    lora_target_modules: str = field(
        default=r".*\.language_model\.layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|o_proj)",
        metadata={"help": "Regex of the wrapped modules: the language model's attention projections only (not the "
                          "vision tower, not cross-attention blocks)."})
    lora_modules_to_save: list[str] = field(
        default_factory=lambda: ["spatial_projector", "temporal_projector", "token_gate"],
        metadata={"help": "Modules trained in full next to the adapters."})


def _default(name: str, value: Any = None, factory: Any = None) -> Any:
    """The `trl.SFTConfig` field `name` (same help) with another default."""
    metadata = SFTConfig.__dataclass_fields__[name].metadata
    return field(default_factory=factory, metadata=metadata) if factory else field(default=value, metadata=metadata)


@dataclass
class MimicSFTConfig(SFTConfig):
    """`trl.SFTConfig` with the paper recipe's defaults (cosine schedule, lr 1e-4, 3 % warm-up, fp32 unless bf16 is
    set, no activation checkpointing, seed 0).

    Whatever the config says, rows reach the collator whole (TRL's dataset preparation is skipped, no column is
    removed), `data_seed` follows `seed` unless set, and a machine without CUDA trains on the CPU.
    """

    output_dir: str | None = field(default=None, metadata={
        "help": "The run folder (required): base/, checkpoint-*/, final/, train_config.json, train_log.jsonl, "
                "train_summary.json."})
    seed: int = _default("seed", 0)
    learning_rate: float = _default("learning_rate", 1e-4)
    lr_scheduler_type: SchedulerType | str = _default("lr_scheduler_type", "cosine")
    warmup_steps: float = _default("warmup_steps", 0.03)
    save_steps: float = _default("save_steps", 200)
    save_total_limit: int | None = _default("save_total_limit", 2)
    bf16: bool | None = _default("bf16", False)
    activation_checkpointing: bool | None = _default("activation_checkpointing", False)
    remove_unused_columns: bool = _default("remove_unused_columns", False)  # the collator reads prompt, target, …
    dataset_kwargs: dict[str, Any] | str | None = _default(
        "dataset_kwargs", factory=lambda: {"skip_prepare_dataset": True})  # TRL does not know video rows

    def __post_init__(self):
        if not self.output_dir:
            raise ValueError("the run needs output_dir (the run folder), in the YAML or as --output_dir")
        self.data_seed = self.seed if self.data_seed is None else self.data_seed
        self.use_cpu = self.use_cpu or not torch.cuda.is_available()
        super().__post_init__()


RECIPE = (ScriptArguments, DataArguments, ModelArguments, LoraArguments, MimicSFTConfig)


class Recipe(NamedTuple):
    script: ScriptArguments
    data: DataArguments
    model: ModelArguments
    lora: LoraArguments
    training: MimicSFTConfig


def make_parser(prog: str | None = None) -> TrlParser:
    return TrlParser(RECIPE, prog=prog, description="Train MIMIC-Chat with TRL SFTTrainer. `--config FILE.yaml` sets "
                     "any of these options (flat keys, see train/configs/); a flag on the command line wins over it.")


def parse_recipe(argv: Sequence[str], prog: str | None = None) -> Recipe:
    """`["--config", "train/configs/demo_standins.yaml", "--output_dir", "runs/x", ...]` -> the run's arguments."""
    return Recipe(*make_parser(prog).parse_args_and_config(list(argv)))


def run_record(recipe: Recipe) -> dict[str, Any]:
    """The contents of `train_config.json` (model cards and scripts/readme_results.py read these keys)."""
    script, data, model, lora, training = recipe
    return {
        "seed": training.seed, "sft_data": script.sft_data, "max_train_minutes": script.max_train_minutes,
        "out_dir": training.output_dir,
        "model": {"init": model.model_name_or_path, "vocab_size": model.vocab_size, "fusion_mode": model.fusion_mode,
                  "freeze_vision": model.freeze_vision, "freeze_language_model": model.freeze_language_model,
                  "overrides": model.model_overrides, "dtype": model.dtype,
                  "attn_implementation": model.attn_implementation},
        "lora": {"enabled": lora.use_peft, "r": lora.lora_r, "alpha": lora.lora_alpha, "dropout": lora.lora_dropout,
                 "target_modules": lora.lora_target_modules, "modules_to_save": lora.lora_modules_to_save},
        "training": json.loads(training.to_json_string()),
        "data": asdict(data),
    }


# -------------------------------------------------------------------------------------------------------------- model

def load_mimic_chat(folder: str | Path, freeze_vision: bool | None = None, freeze_language_model: bool | None = None,
                    dtype: str = "auto", attn_implementation: str | None = None):
    """(model, processor) from a saved MIMIC-Chat folder, with the freeze flags optionally replaced.

    dtype "auto" keeps the saved dtype; `attn_implementation` goes to the LM and, where it has the kernel, the tower.
    """
    check_init(str(folder))
    model = MimicChatForConditionalGeneration.from_pretrained(folder, dtype=dtype,
                                                              attn_implementation=attn_implementation)
    # The processor follows the model's config (frame counts, size, video tokens); only the tokenizer is read back.
    processor = build_processor(model.config, PreTrainedTokenizerFast.from_pretrained(folder))
    if freeze_vision is not None:
        model.config.freeze_vision = freeze_vision
    if freeze_language_model is not None:
        model.config.freeze_language_model = freeze_language_model
    model.apply_freeze_flags()
    return model, processor


def initial_model(args: ModelArguments, run_dir: Path, texts: Iterable[str], seed: int):
    """(model, processor) for a run: reloaded from `<run>/base` when it exists (resume), else built and saved there.

    Saving the start once means resuming and exporting rebuild exactly the same base, even from random weights. The
    base keeps `args.dtype`, so a bf16 start stays bf16 through training and export.
    """
    base = run_dir / BASE_DIR
    flags = {"freeze_vision": args.freeze_vision, "freeze_language_model": args.freeze_language_model}
    if not base.exists():
        init = args.model_name_or_path
        if init in PRESETS:
            tokenizer = build_tokenizer(texts, vocab_size=args.vocab_size)
            config = MimicChatConfig.from_preset(init, tokenizer=tokenizer, fusion_mode=args.fusion_mode, **flags,
                                                 **dict(args.model_overrides))
            torch.manual_seed(seed)
            model = MimicChatForConditionalGeneration(config)  # built in float32: the same draw for every dtype
            if args.dtype != "auto":
                model.to(getattr(torch, args.dtype))
            processor = build_processor(config, tokenizer)
        else:
            model, processor = load_mimic_chat(init, **flags, dtype=args.dtype)
        save_for_hub(model, processor, base)
    return load_mimic_chat(base, **flags, attn_implementation=args.attn_implementation)


def init_from_parts(lm: str, vision: str, out_dir: str | Path, tokenizer: str | None = None, dtype: str = "auto",
                    seed: int = 0, **config_kwargs) -> Path:
    """`mimic train init`: a MIMIC-Chat folder at `out_dir` from a pretrained causal LM and vision tower (folders or Hub
    ids), ready as a run's `model_name_or_path`.

    The LM's tokenizer (or `tokenizer`'s, e.g. the InternLM2 original next to a converted LM) gains the special tokens,
    the embeddings grow with new rows at the mean, the projectors and gates start from `seed`; `config_kwargs` are
    `MimicChatConfig` fields (frame counts, spatial_pool_grid, fusion_mode, freeze flags).
    """
    from transformers import AutoTokenizer

    text_tokenizer = AutoTokenizer.from_pretrained(tokenizer or lm)
    new_token_ids = add_special_tokens(text_tokenizer)
    torch.manual_seed(seed)
    model = MimicChatForConditionalGeneration.from_pretrained_parts(
        lm, vision, tokenizer=text_tokenizer, new_token_ids=new_token_ids,
        dtype=dtype if dtype == "auto" else getattr(torch, dtype), **config_kwargs)
    return save_for_hub(model, build_processor(model.config, text_tokenizer), out_dir)


def peft_config(args: LoraArguments, fusion_mode: str) -> LoraConfig | None:
    if not args.use_peft:
        return None
    if fusion_mode == "xattn_gate":
        # peft would wrap copies of the cross-attention blocks in modules_to_save, but the decoder-layer hooks call the
        # original blocks, so the trained copies would never run.
        raise ValueError("LoRA training supports fusion_mode='token_gate'; set use_peft false for 'xattn_gate'")
    return LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules=args.lora_target_modules, modules_to_save=list(args.lora_modules_to_save),
                      bias="none")


def effective_batch(training: MimicSFTConfig) -> str:
    """The rows behind one optimizer step, printed when training starts (accelerate configs set the process count)."""
    per_step = training.per_device_train_batch_size * training.gradient_accumulation_steps * training.world_size
    return (f"effective batch {per_step} = {training.per_device_train_batch_size} per device x "
            f"{training.gradient_accumulation_steps} accumulation steps x {training.world_size} processes")


def trainable_summary(model) -> str:
    """One line per group of trainable parameters plus the totals, printed when training starts."""
    groups: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            plain = name.removeprefix("base_model.model.").replace(".modules_to_save.default", "")
            key = "lora adapters" if "lora_" in name else ".".join(plain.split(".")[:2])
            groups[key] = groups.get(key, 0) + parameter.numel()
    counts = count_parameters(model)
    lines = [f"  {count:>12,}  {name}" for name, count in sorted(groups.items())]
    share = counts["trainable"] / max(1, counts["total"])
    lines.append(f"trainable {counts['trainable']:,} of {counts['total']:,} parameters ({share:.2%})")
    return "\n".join(["trainable parameters:", *lines])


# ------------------------------------------------------------------------------------------------------------ trainer

def load_sft_dataset(sft_dir: str | Path | None):
    from datasets import load_dataset

    if not sft_dir:
        raise ValueError("the run needs sft_data (a folder written by `mimic train data`), in the YAML or as --sft_data")
    path = Path(sft_dir) / SFT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: build the SFT data with `mimic train data` first")
    return load_dataset("parquet", data_files={"train": str(path)}, split="train")


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


class AppendLog(TrainerCallback):
    """Appends each log (losses, learning rate, …) to `<run>/train_log.jsonl`, from the main process only."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOG_FILE

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            append_jsonl(self.path, {"step": state.global_step, "epoch": state.epoch, **logs})


class TimeCapReached(RuntimeError):
    """Training hit `max_train_minutes` before its last step; the checkpoint is saved and a rerun resumes."""


class StopAfter(TrainerCallback):
    """Stops training (and saves) once `minutes` of wall-clock time have passed since it began; `run_sft` then fails."""

    def __init__(self, minutes: float):
        self.minutes = minutes
        self.stopped_at: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.deadline = time.monotonic() + 60 * self.minutes

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() >= self.deadline and state.global_step < state.max_steps:
            control.should_training_stop = True
            control.should_save = True
            self.stopped_at = state.global_step


def build_trainer(recipe: Recipe, train_dataset=None, frame_loader=None) -> SFTTrainer:
    """The SFTTrainer of a run (model built or reloaded from `<run>/base`); `frame_loader` replaces the video decoder."""
    from accelerate import PartialState

    script, _, model_args, lora_args, training_args = recipe
    run_dir = Path(training_args.output_dir)
    set_seed(training_args.seed)
    dataset = train_dataset if train_dataset is not None else load_sft_dataset(script.sft_data)
    texts = list(dataset["prompt"]) + list(dataset["target"])
    # Rank 0 builds and saves <run>/base first; the other ranks then load the same weights from it. The state is a
    # singleton: it must be created with the trainer's cpu flag, or a CPU launch would not join the gloo group.
    with PartialState(cpu=training_args.use_cpu).main_process_first():
        model, processor = initial_model(model_args, run_dir, texts, training_args.seed)
    collator = SFTCollator(processor, frame_loader or VideoFrameLoader(model.config),
                           max_length=training_args.max_length)
    return SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=processor,
        peft_config=peft_config(lora_args, model.config.fusion_mode),
        callbacks=[AppendLog(run_dir)] + ([StopAfter(script.max_train_minutes)] if script.max_train_minutes else []),
    )


def run_sft(recipe: Recipe, resume: str | bool = "auto", frame_loader=None) -> Path:
    """Train and save `<run>/final`; resume: "auto" (latest checkpoint if any), a checkpoint path, or False."""
    run_dir = Path(recipe.training.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(recipe, frame_loader=frame_loader)
    if trainer.is_world_process_zero():
        atomic_write_json(run_dir / CONFIG_FILE, run_record(recipe))
    checkpoint = latest_checkpoint(run_dir) if resume == "auto" else (resume or None)
    if trainer.is_world_process_zero():
        print(trainable_summary(trainer.model))
        print(effective_batch(trainer.args))
        if checkpoint:
            print(f"resuming from {checkpoint}")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall_s = time.perf_counter() - started
    cap = next((c for c in trainer.callback_handler.callbacks if isinstance(c, StopAfter)), None)
    if cap is not None and cap.stopped_at is not None:
        raise TimeCapReached(f"training reached max_train_minutes={cap.minutes} at step {cap.stopped_at} of "
                             f"{trainer.state.max_steps}; {run_dir} holds its checkpoint: rerun to resume, or raise "
                             "the cap (no model is exported from a cut schedule)")
    trainer.save_model(str(run_dir / FINAL_DIR))
    if trainer.is_world_process_zero():
        losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
        atomic_write_json(run_dir / SUMMARY_FILE, {
            "global_step": trainer.state.global_step,
            "world_size": trainer.args.world_size,
            "train_loss": result.training_loss,
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "wall_s": round(wall_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "resumed_from": str(checkpoint) if checkpoint else None,
            "lora": bool(recipe.lora.use_peft),
            "parameters": count_parameters(trainer.model),  # trainable / frozen / total (peft's copies included)
        })
        print(json.dumps({"final": str(run_dir / FINAL_DIR), "wall_s": round(wall_s, 1)}))
    return run_dir / FINAL_DIR


def resume_target(recipe: Recipe) -> str | bool:
    """`run_sft`'s resume argument from the arguments: no_resume, resume_from_checkpoint, or "auto"."""
    return False if recipe.script.no_resume else (recipe.training.resume_from_checkpoint or "auto")


# --------------------------------------------------------------------------------------------------------------- demo

def train_demo_model(world_dir: str | Path, bench_dir: str | Path, out_dir: str | Path, seed: int = 0,
                     config_path: str | Path | None = None, max_videos: int | None = None,
                     scratch: bool = False, standins=None, standin_cache: str | Path | None = None) -> Path:
    """The demo's model: render the training videos and build the SFT data as the config says, train, export
    `<out>/mimic-chat-tiny` (loads with AutoModel + trust_remote_code).

    Default (`configs/demo_standins.yaml`): the paper's recipe, the stand-in language model and video tower (settings
    `standins`, a `standins.StandinSettings`, default with this seed) made (or reused from `standin_cache`) by
    `standins.demo_standins`, composed into `<out>/start` as `mimic train init` does, then LoRA SFT from there;
    `<out>/standins.json` keeps their summary. `scratch` (`configs/demo_scratch.yaml`): the earlier recipe, a
    random-init tiny MIMIC-Chat trained in full with a curriculum. Resumable: rendered videos, the SFT data, the start
    and training checkpoints already in `out_dir` are reused.
    """
    from mimic_train.export import export_model

    out_dir = Path(out_dir)
    from mimic_train.standins import StandinSettings

    config_path = config_path or (SCRATCH_CONFIG if scratch else DEMO_CONFIG)
    flags = ["--config", str(config_path), "--sft_data", str(out_dir / "sft"), "--output_dir", str(out_dir / "run"),
             "--seed", str(seed)] + ([] if max_videos is None else ["--max_videos", str(max_videos)])
    data = parse_recipe(flags).data
    build_sft_data(world_dir, out_dir / "videos", out_dir / "sft", bench_dir=bench_dir, seed=seed,
                   **data.build_kwargs())
    if not scratch:
        settings = standins or StandinSettings(seed=seed)
        flags += ["--model_name_or_path", str(_compose_standins(world_dir, out_dir, settings, standin_cache))]
    run_sft(parse_recipe(flags))
    return export_model(out_dir / "run", out_dir / "mimic-chat-tiny")


def _compose_standins(world_dir: str | Path, out_dir: Path, settings, cache: str | Path | None) -> Path:
    """`<out>/start`: the stand-ins for the SFT data's videos, composed into a MIMIC-Chat folder (made once)."""
    from mimic_train.standins import DEFAULT_CACHE, demo_standins

    rows = load_sft_dataset(out_dir / "sft")
    video_paths = {video: Path(path) for video, path in zip(rows["video_id"], rows["video_path"], strict=True)}
    lm, tower, summary = demo_standins(world_dir, video_paths, cache or DEFAULT_CACHE, settings)
    atomic_write_json(out_dir / STANDINS_FILE, summary)
    start = out_dir / START_DIR
    if not (start / "config.json").exists():
        init_from_parts(str(lm), str(tower), start, seed=settings.seed, **TINY_COMPOSITION)
    return start
