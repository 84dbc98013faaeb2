"""`mimic release`: assemble the Hub folders, validate them, and (with --push) upload them.

    mimic release --demo runs/demo --out runs/demo/release            # assemble + validate (offline)
    mimic release --demo runs/demo --out DIR --org ORG --push         # ... then upload with huggingface_hub

The orchestrator: each artifact builds its own folder and card — MIMIC-Data (`mimic_data.release`), MIMIC-Bench
(`mimic_bench.release`), MIMIC-Chat (the exported model; card by `mimic_train.model_card`), MIMIC-Chat-Space
(`mimic_space.assemble`) — and this module gathers them under OUT and validates them as the Hub will use them:
every dataset config loads with `load_dataset` and the folders hold no video file and no comment-author column; the
model loads with AutoModel/AutoProcessor(trust_remote_code=True) in a fresh process that cannot import this project;
the Space starts from its own folder (no project package importable) and writes comments on a bundled example; the
`evaluate` metric folder (`mimic_eval.standalone.export_metric`, a Space on the Hub) scores probe replies in a fresh
process that cannot import the project exactly as `mimic_bench.scoring.score` does. The result goes to
OUT/release_report.json. Python entry point for `make demo`: `release_all(demo_dir, out_dir)`. --push uploads the five
folders and turns on gating (`update_repo_settings(gated=...)`) for every repo whose card asks for it
(`extra_gated_*` fields: the two datasets).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mimic_data.io import atomic_write_json, atomic_write_text

METRIC = "mimic_bench"  # evaluate.load("<org>/mimic_bench") runs mimic_bench.py of that Space, so the name is fixed
ARTIFACTS = {"MIMIC-Data": "dataset", "MIMIC-Bench": "dataset", "MIMIC-Chat": "model", "MIMIC-Chat-Space": "space",
             METRIC: "space"}
DEFAULT_ORG = "mimic-bench"
GATING_MODES = ("auto", "manual")  # auto: access is granted once the form is filled; manual: the org approves each
VIDEO_SUFFIXES = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v", ".flv", ".ts"}
AUTHOR_FIELDS = {"author", "author_id", "author_name", "author_handle", "author_url", "author_thumbnail",
                 "commenter", "commenter_id", "username", "user_id", "user_name", "handle"}
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
PROJECT_MODULES = ("modeling_mimic_chat", "mimic_data", "mimic_bench", "mimic_train", "mimic_eval", "mimic_cards",
                   "mimic_space", "mimic_cli", "mimic_demo", "mimic_release")
CHILD_TIMEOUT_S = 300
CHILD_ENV = {"OMP_NUM_THREADS": "1"}  # checks run tiny workloads; extra threads only contend with other processes


class ReleaseError(Exception):
    """A release folder that would be wrong on the Hub; the message names the folder and the problem."""


# ---- dataset folders -------------------------------------------------------------------------------------------------

def _field_names(schema) -> set[str]:
    import pyarrow as pa

    names = set()
    for field in schema:
        names.add(field.name.lower())
        kind = field.type
        while pa.types.is_list(kind) or pa.types.is_large_list(kind):
            kind = kind.value_type
        if pa.types.is_struct(kind):
            names |= _field_names(kind)
    return names


class _IgnoredVideoParams(logging.Filter):
    """Drops datasets' "Some datasets params were ignored: ['metadata_filenames']": a bench config declares the
    videofolder layout (`metadata_filenames`) so that it yields a `video` column once hydrated, and an un-hydrated
    folder loads as plain parquet, which has no such parameter; the YAML cannot avoid it without a second layout."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "params were ignored: ['metadata_filenames']" not in record.getMessage()


def validate_dataset_folder(folder: str | Path) -> dict:
    """Every config in the card's YAML loads; no video files; no comment-author column. Returns rows per config/split."""
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise ReleaseError(f"{folder}: no README.md (the card with the configs)")
    videos = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if videos:
        raise ReleaseError(f"{folder}: dataset folders ship no videos, found {len(videos)} (e.g. {videos[0]})")
    for parquet in sorted(folder.rglob("*.parquet")):
        leaked = _field_names(pq.read_schema(parquet)) & AUTHOR_FIELDS
        if leaked:
            raise ReleaseError(f"{parquet}: comment-author column(s) {sorted(leaked)} must not be released")
    configs = [c["config_name"] for c in DatasetCard.load(folder / "README.md").data.to_dict().get("configs", [])]
    if not configs:
        raise ReleaseError(f"{folder}/README.md declares no configs")
    rows: dict[str, dict[str, int]] = {}
    quiet, datasets_logger = _IgnoredVideoParams(), logging.getLogger("datasets.load")
    datasets_logger.addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory() as cache:
            for config in configs:
                try:
                    loaded = load_dataset(str(folder), config, cache_dir=cache)
                except Exception as err:
                    raise ReleaseError(f"{folder}: config {config!r} does not load: {type(err).__name__}: "
                                       f"{err}") from err
                rows[config] = {split: part.num_rows for split, part in loaded.items()}
                if "file_name" in loaded[next(iter(loaded))].column_names:
                    shipped = [f for part in loaded.values() for f in part["file_name"] if f]
                    if shipped:
                        raise ReleaseError(f"{folder}: config {config!r} points at {len(shipped)} video files "
                                           f"(e.g. {shipped[0]}); release the un-hydrated folder (file_name null)")
    finally:
        datasets_logger.removeFilter(quiet)
    return {"configs": rows}


# ---- model folder ----------------------------------------------------------------------------------------------------

# Prepended to every check script: a released folder must work without any project package.
BLOCK_PROJECT_IMPORTS = f"""
import importlib.abc, sys
BLOCKED = {PROJECT_MODULES!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"project module {{name}} imported by a released folder")
sys.meta_path.insert(0, Block())
"""

# Only the folder's own remote code may serve.
_MODEL_CHECK = r"""
import json, sys
from transformers import AutoModel, AutoProcessor
model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True)
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
def count(module):
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())
components = {name: count(child) for name, child in model.model.named_children()}
if model.lm_head.weight is not model.get_input_embeddings().weight:
    components["lm_head"] = count(model.lm_head)
print(json.dumps({"model_class": type(model).__name__, "processor_class": type(processor).__name__,
                  "components": components, **model.count_parameters()}))
"""


def _run_isolated(script: str, args: list[str], cwd: Path, what: str, env: dict | None = None) -> dict:
    """Run `script` in a fresh interpreter that cannot import the project; its last stdout line is the JSON result."""
    completed = subprocess.run([sys.executable, "-I", "-B", "-c", BLOCK_PROJECT_IMPORTS + script, *args], cwd=cwd, capture_output=True, text=True,
                               timeout=CHILD_TIMEOUT_S, env={**os.environ, **CHILD_ENV, **(env or {})})
    if completed.returncode != 0:
        raise ReleaseError(f"{what} failed in a fresh process:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def validate_model_folder(folder: str | Path) -> dict:
    """Load with AutoModel/AutoProcessor(trust_remote_code=True) in a fresh process; parameter counts per component."""
    folder = Path(folder).resolve()
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ReleaseError(f"{folder}: pickled files {pickles} must not be released (safetensors only)")
    if not list(folder.glob("*.safetensors")):
        raise ReleaseError(f"{folder}: no *.safetensors weights")
    with tempfile.TemporaryDirectory() as cwd:
        return _run_isolated(_MODEL_CHECK, [str(folder)], Path(cwd), f"loading the model folder {folder}")


# ---- Space folder ----------------------------------------------------------------------------------------------------

# Runs in a child interpreter from the Space folder: the app must work from the folder's own files (no project package
# importable) and write comments on a bundled example.
_SPACE_CHECK = r"""
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
sys.path.insert(0, str(folder))
import app, comment_engine, frames_mimic_chat, human_or_ai
outside = [m.__name__ for m in (app, comment_engine, frames_mimic_chat, human_or_ai)
           if not Path(m.__file__).resolve().is_relative_to(folder)]
data = human_or_ai.load_space_data(folder / "space_data")
engine = comment_engine.CommentEngine(app.default_model_path())
app.build_demo(engine, data)
example = data.examples()[0]
check = comment_engine.check_video(example)
comments = engine.generate(engine.sample(example), data.prompts[app._platform_for(check)], 2, 0.9, 0.95, 0)
print(json.dumps({"outside_folder": outside, "n_rounds": len(data.rounds), "example_comments": comments}))
"""


def validate_space_folder(folder: str | Path, model_folder: str | Path) -> dict:
    from huggingface_hub import SpaceCard

    folder = Path(folder).resolve()
    card = SpaceCard.load(folder / "README.md").data.to_dict()
    if card.get("sdk") != "gradio" or not (folder / card.get("app_file", "")).is_file():
        raise ReleaseError(f"{folder}/README.md: needs sdk gradio and an app_file that exists, got {card}")
    for key in ("models", "datasets", "license", "title"):
        if not card.get(key):
            raise ReleaseError(f"{folder}/README.md: Space YAML lacks {key!r}")
    if not (folder / "requirements.txt").is_file():
        raise ReleaseError(f"{folder}: no requirements.txt")
    result = _run_isolated(_SPACE_CHECK, [str(folder)], folder, f"starting the Space in {folder}",
                        env={"MIMIC_CHAT_MODEL": str(Path(model_folder).resolve())})
    if result["outside_folder"]:
        raise ReleaseError(f"{folder}: the app imported {result['outside_folder']} from outside its folder")
    return result


# ---- metric folder ---------------------------------------------------------------------------------------------------

_METRIC_CHECK = r"""
import json, sys
import evaluate
samples = json.loads(sys.argv[2])
metric = evaluate.load(sys.argv[1])
extra = {key + "s": [s[key] for s in samples] for key in ("rotation", "condition")}
result = metric.compute(predictions=[s["response"] for s in samples], references=[s["gold"] for s in samples],
                        question_ids=[s["question_id"] for s in samples], video_ids=[s["video_id"] for s in samples],
                        tasks=[s["task"] for s in samples], options=[s["options"] for s in samples],
                        n_bootstrap=200, seed=0, **extra)
print(json.dumps(result))
"""

_PROBE_REPLIES = ("The answer is ({letter}).", "{letter}", "Option {letter}: {text}", "{text}", "no idea",
                  "I think {letter}.", "</think>maybe A or B</think> Answer: {letter}", "")


def metric_probe_samples() -> list[dict]:
    """Replies that walk every rung of the extraction ladder, over all tasks, rotations and two conditions."""
    from mimic_bench.tasks import LETTERS, TASK_NAMES

    samples = []
    for t, task in enumerate(TASK_NAMES):
        for v in range(4):
            options = [f"{task} option {k} of video {v} (#{k}!)" for k in range(len(LETTERS))]
            gold = LETTERS[(t + v) % len(LETTERS)]
            for rotation in range(2):
                for shift, condition in enumerate(("video", "blind")):
                    i = (t * 4 + v) * 2 + rotation + shift  # each condition meets every reply form
                    picked = LETTERS[(LETTERS.index(gold) + (i % 3 == 0)) % len(LETTERS)]
                    reply = _PROBE_REPLIES[i % len(_PROBE_REPLIES)].format(
                        letter=picked, text=options[LETTERS.index(picked)].upper())
                    samples.append({"question_id": f"{task}:v{v}", "video_id": f"v{v}", "task": task, "gold": gold,
                                    "response": reply, "options": options, "rotation": rotation,
                                    "condition": condition})
    return samples


def validate_metric_folder(folder: str | Path) -> dict:
    """evaluate.load(folder) in a fresh process that cannot import the project must score the probe replies exactly
    as mimic_bench.scoring.score does."""
    from mimic_bench.scoring import score

    folder = Path(folder).resolve()
    samples = metric_probe_samples()
    with tempfile.TemporaryDirectory() as cwd:
        result = _run_isolated(_METRIC_CHECK, [str(folder), json.dumps(samples)], Path(cwd),
                               f"scoring with the metric folder {folder}", env={"HF_MODULES_CACHE": cwd})
    expected = json.loads(json.dumps(score(samples, n_bootstrap=200, seed=0)))
    if result != expected:
        raise ReleaseError(f"{folder}: the metric module scores the probe replies differently from "
                           f"mimic_bench.scoring.score (overall {result.get('overall')} vs {expected['overall']})")
    return {"n_probe_samples": len(samples), "overall_acc": result["overall"]["acc"],
            "parse_rules": result["parse_rules"]}


# ---- assembly --------------------------------------------------------------------------------------------------------

def copy_folder(src: Path, dst: Path, ignore=None) -> Path:
    """Copy src to dst through a temporary sibling and a rename, so dst is never half-written."""
    if src.resolve() == dst.resolve():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    shutil.copytree(src, staging / "x", ignore=ignore)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(staging / "x", dst)
    shutil.rmtree(staging)
    return dst


def _first_existing(candidates: list[Path], marker: str) -> Path | None:
    return next((c for c in candidates if (c / marker).is_file()), None)


def find_inputs(demo_dir: str | Path, *, data_dir=None, bench_dir=None, model_dir=None, world_dir=None,
                train_dir=None, eval_dir=None) -> dict[str, Path | None]:
    """The run folders a release is built from; each can be given, else it is looked up under demo_dir."""
    demo = Path(demo_dir)
    looked = {
        "data_dir": [Path(data_dir)] if data_dir else [demo / "release" / "MIMIC-Data"],
        "bench_dir": [Path(bench_dir)] if bench_dir else [demo / "release" / "MIMIC-Bench",
                                                          demo / "bench" / "MIMIC-Bench"],
        "model_dir": [Path(model_dir)] if model_dir else [demo / "model", demo / "train" / "export",
                                                          demo / "train" / "final"],
    }
    markers = {"data_dir": "README.md", "bench_dir": "README.md", "model_dir": "config.json"}
    found: dict[str, Path | None] = {}
    for key, candidates in looked.items():
        found[key] = _first_existing(candidates, markers[key])
        if found[key] is None:
            raise ReleaseError(f"no {key} found: looked for {markers[key]} in {', '.join(map(str, candidates))}; "
                               f"pass {key}=...")
    found["world_dir"] = Path(world_dir) if world_dir else _first_existing([demo / "world"], "world.parquet")
    model_parent = found["model_dir"].parent
    found["train_dir"] = Path(train_dir) if train_dir else _first_existing([model_parent, demo / "train"],
                                                                            "train_config.json")
    found["eval_dir"] = Path(eval_dir) if eval_dir else (demo / "eval" if (demo / "eval").is_dir() else None)
    return found


def release_all(demo_dir: str | Path, out_dir: str | Path, *, org: str = DEFAULT_ORG, seed: int = 0,
                **inputs) -> dict:
    """Assemble and validate OUT/{MIMIC-Data, MIMIC-Bench, MIMIC-Chat, MIMIC-Chat-Space, mimic_bench}; returns the
    report."""
    from mimic_eval.standalone import export_metric
    from mimic_space.assemble import build_space_folder
    from mimic_train.model_card import render_model_card

    paths = find_inputs(demo_dir, **inputs)
    out = Path(out_dir)
    report: dict = {"org": org, "inputs": {k: str(v) if v else None for k, v in paths.items()}, "artifacts": {}}
    for name, key in (("MIMIC-Data", "data_dir"), ("MIMIC-Bench", "bench_dir")):
        folder = copy_folder(paths[key], out / name, ignore=shutil.ignore_patterns("videos", ".*"))
        report["artifacts"][name] = {"repo_type": "dataset", **validate_dataset_folder(folder)}
        print(f"{name}: {report['artifacts'][name]['configs']}", flush=True)

    model_folder = copy_folder(paths["model_dir"], out / "MIMIC-Chat", ignore=shutil.ignore_patterns("README.md"))
    counts = validate_model_folder(model_folder)
    source = "the synthetic world (`mimic demo`)" if paths["world_dir"] else "a crawl of real platform videos"
    atomic_write_text(model_folder / "README.md", render_model_card(model_folder, counts, org=org, source=source,
                                                                      train_dir=paths["train_dir"],
                                                                      eval_dir=paths["eval_dir"]))
    report["artifacts"]["MIMIC-Chat"] = {"repo_type": "model", **counts}
    print(f"MIMIC-Chat: {counts['total']:,} parameters, loads in a fresh process", flush=True)

    space = build_space_folder(out / "MIMIC-Chat-Space", bench_dir=paths["bench_dir"], model_dir=model_folder,
                               org=org, world_dir=paths["world_dir"], seed=seed)
    report["artifacts"]["MIMIC-Chat-Space"] = {"repo_type": "space", **validate_space_folder(space, model_folder)}
    print(f"MIMIC-Chat-Space: app starts from its folder, {report['artifacts']['MIMIC-Chat-Space']['n_rounds']} "
          "rounds", flush=True)

    metric = export_metric(out / METRIC)
    report["artifacts"][METRIC] = {"repo_type": "space", **validate_metric_folder(metric)}
    print(f"{METRIC} (evaluate metric): scores {report['artifacts'][METRIC]['n_probe_samples']} probe replies like "
          "mimic_bench.scoring without the project", flush=True)
    atomic_write_json(out / "release_report.json", report)
    return report


# ---- push ------------------------------------------------------------------------------------------------------------

def push_plan(out_dir: str | Path, org: str) -> list[dict]:
    out = Path(out_dir)
    missing = [name for name in ARTIFACTS if not (out / name / "README.md").is_file()]
    if missing:
        raise ReleaseError(f"{out}: not assembled ({', '.join(missing)} missing); run `mimic release` without --push")
    return [{"folder": str(out / name), "repo_id": f"{org}/{name}", "repo_type": kind}
            for name, kind in ARTIFACTS.items()]


def gating_of(folder: str | Path) -> bool:
    """Whether the folder's card asks for gated access (any `extra_gated_*` field in its YAML)."""
    from huggingface_hub import RepoCard

    return any(key.startswith("extra_gated") for key in RepoCard.load(Path(folder) / "README.md").data.to_dict())


def push(out_dir: str | Path, org: str, token: str | None = None, gated: str = "auto") -> list[str]:
    """Create (if needed) and upload each repo with HfApi.upload_folder, then turn on gating (`gated`, one of
    GATING_MODES) where the card has `extra_gated_*` fields; the token comes from `token`, HF_TOKEN or
    `hf auth login`. Returns the commit URLs."""
    from huggingface_hub import HfApi, constants

    if gated not in GATING_MODES:
        raise ReleaseError(f"gated must be one of {', '.join(GATING_MODES)}, not {gated!r}")
    plan = push_plan(out_dir, org)
    if constants.HF_HUB_OFFLINE:
        raise ReleaseError("HF_HUB_OFFLINE is set: pushing needs the network (unset it, and log in with `hf auth "
                           f"login` or HF_TOKEN); nothing was uploaded. Planned: {[p['repo_id'] for p in plan]}")
    api = HfApi(token=token)
    urls = []
    for item in plan:
        extra = {"space_sdk": "gradio"} if item["repo_type"] == "space" else {}
        api.create_repo(item["repo_id"], repo_type=item["repo_type"], exist_ok=True, **extra)
        commit = api.upload_folder(folder_path=item["folder"], repo_id=item["repo_id"], repo_type=item["repo_type"],
                                   commit_message="MIMIC-Bench release (mimic release)")
        urls.append(str(commit))
        gate = gating_of(item["folder"])
        if gate:  # after the upload, so the card that explains the gate is on the Hub when access closes
            api.update_repo_settings(item["repo_id"], repo_type=item["repo_type"], gated=gated)
        print(f"pushed {item['repo_id']} ({item['repo_type']}{', gated ' + gated if gate else ''})", flush=True)
    return urls


def _handler(args) -> None:
    overrides = {key: getattr(args, key) for key in ("data_dir", "bench_dir", "model_dir", "world_dir", "train_dir",
                                                     "eval_dir") if getattr(args, key)}
    if args.push and not args.org:
        raise SystemExit("--push needs --org ORG (the Hub namespace to create the repos in)")
    release_all(args.demo, args.out, org=args.org or DEFAULT_ORG, seed=args.seed, **overrides)
    if args.push:
        push(args.out, args.org, gated=args.gated)


def register(subparsers) -> None:
    parser = subparsers.add_parser("release", help="assemble + validate the Hub folders; --push uploads them")
    parser.add_argument("--demo", default="runs/demo", help="run folder the inputs are looked up in")
    parser.add_argument("--out", default="runs/demo/release")
    parser.add_argument("--org", default=None, help=f"Hub namespace for repo ids in cards (default {DEFAULT_ORG})")
    parser.add_argument("--push", action="store_true", help="upload with huggingface_hub after validating")
    parser.add_argument("--gated", choices=GATING_MODES, default="auto",
                        help="access mode set on push for repos whose card asks for gating (the datasets)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Space's Human-or-AI rounds")
    for key, what in (("data_dir", "MIMIC-Data folder"), ("bench_dir", "MIMIC-Bench folder (un-hydrated)"),
                      ("model_dir", "exported MIMIC-Chat folder"), ("world_dir", "synthetic world folder"),
                      ("train_dir", "training run folder"), ("eval_dir", "evaluation run folder")):
        parser.add_argument("--" + key.replace("_", "-"), dest=key, default=None, help=what)
    parser.set_defaults(handler=_handler)
