"""`mimic train …`: compose MIMIC-Chat from pretrained parts, build the isomorphic SFT data, train it (TRL + optional
LoRA), export, and the demo run.

`data` and `sft` take the recipe's dataclass options (train/sft.py), parsed by `trl.TrlParser` in their handlers, so
`mimic` starts without importing TRL; `mimic train sft --help` lists every option.
"""

import argparse


class _Subcommand(argparse.ArgumentParser):
    """A `mimic train` subcommand; with `recipe=True` its arguments are left whole for the handler's TrlParser."""

    def __init__(self, *args, recipe: bool = False, **kwargs):
        super().__init__(*args, add_help=not recipe, **kwargs)
        self.recipe = recipe

    def parse_known_args(self, args=None, namespace=None):
        if not self.recipe:
            return super().parse_known_args(args, namespace)
        namespace = argparse.Namespace() if namespace is None else namespace
        for key, value in self._defaults.items():
            setattr(namespace, key, value)
        namespace.argv = list(args or [])
        return namespace, []


def _data(args) -> None:
    from trl import TrlParser

    from mimic_train.sft import RECIPE, DataArguments
    from mimic_train.sft_data import build_sft_data

    parser = TrlParser(DataArguments, prog="mimic train data", description="Isomorphic SFT data (7 MCQ formats + "
                       "comment generation) from the training pool. `--config FILE.yaml` reads these options from a "
                       "training config (its other keys are ignored); a flag wins over it.")
    parser.add_argument("--world", required=True, help="MIMIC-Data working folder (records/world/splits.parquet)")
    parser.add_argument("--videos", required=True, help="video root (videos/<platform>/<id[:2]>/<id>.mp4)")
    parser.add_argument("--out", required=True, help="the SFT data folder to write")
    parser.add_argument("--bench", help="MIMIC-Bench folder: its videos are asserted absent from the SFT data")
    parser.add_argument("--no-render", action="store_true", help="do not render missing synthetic videos; skip them")
    parser.add_argument("--seed", type=int, default=0)
    data, paths, from_config, unknown = parser.parse_args_and_config(args.argv, return_remaining_strings=True,
                                                                     separate_remaining_strings=True)
    recipe_keys = {name for dtype in RECIPE for name in dtype.__dataclass_fields__}
    unknown += [key for key in from_config[::2] if key.removeprefix("--") not in recipe_keys]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    out = build_sft_data(paths.world, paths.videos, paths.out, bench_dir=paths.bench, seed=paths.seed,
                         render_missing=not paths.no_render, **data.build_kwargs())
    print(f"wrote SFT data to {out}")


def _init(args) -> None:
    from mimic_train.sft import init_from_parts

    config = {"fusion_mode": args.fusion_mode, "spatial_num_frames": args.spatial_num_frames,
              "temporal_num_frames": args.temporal_num_frames, "spatial_pool_grid": args.spatial_pool_grid}
    out = init_from_parts(args.lm, args.vision, args.out, tokenizer=args.tokenizer, dtype=args.dtype, seed=args.seed,
                          **config)
    print(f"MIMIC-Chat folder at {out}: train it with `mimic train sft --model_name_or_path {out} ...`")


def _sft(args) -> None:
    from mimic_train.sft import parse_recipe, resume_target, run_sft

    recipe = parse_recipe(args.argv, prog="mimic train sft")  # a start it cannot load: InitError, one line (mimic_cli)
    run_sft(recipe, resume=resume_target(recipe))


def _export(args) -> None:
    from mimic_train.export import export_model

    print(f"exported {export_model(args.run, args.out, checkpoint=args.checkpoint)}")


def _demo(args) -> None:
    from mimic_train.sft import train_demo_model

    model = train_demo_model(args.world, args.bench, args.out, seed=args.seed, config_path=args.config,
                             scratch=args.scratch)
    print(f"demo model at {model}")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="MIMIC-Chat training: init from parts, SFT data, SFT + LoRA, export, "
                                   "demo model")
    sub = parser.add_subparsers(dest="train_command", required=True, parser_class=_Subcommand)

    p = sub.add_parser("init", help="compose a MIMIC-Chat folder from a pretrained causal LM and vision tower "
                       "(the start of a paper-style run: `mimic train sft --model_name_or_path OUT`)")
    p.add_argument("--lm", required=True, help="causal LM folder or Hub id (Llama, Qwen2/3, Mistral; InternLM2 after "
                   "python -m modeling_mimic_chat.convert_internlm2_to_llama)")
    p.add_argument("--vision", required=True, help="vision tower folder or Hub id: TimeSformer or VideoMAE (video), "
                   "SigLIP or CLIP (per frame)")
    p.add_argument("--out", required=True, help="the MIMIC-Chat folder to write")
    p.add_argument("--tokenizer", help="tokenizer folder or Hub id (default: the LM's)")
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                   help="weights dtype of the whole model (auto: the LM checkpoint's)")
    p.add_argument("--fusion-mode", choices=["token_gate", "xattn_gate"], default="token_gate")
    p.add_argument("--spatial-num-frames", type=int, default=8)
    p.add_argument("--temporal-num-frames", type=int, default=32)
    p.add_argument("--spatial-pool-grid", type=int, default=7, help="spatial tokens = grid x grid")
    p.add_argument("--seed", type=int, default=0, help="seed of the new projectors and gates")
    p.set_defaults(handler=_init)

    sub.add_parser("data", recipe=True, help="isomorphic SFT data (7 MCQ formats + comment generation) from the "
                   "training pool; --help lists the options").set_defaults(handler=_data)
    sub.add_parser("sft", recipe=True, help="train with TRL SFTTrainer (--config FILE.yaml, then any option as a "
                   "flag); resumes from the run's latest checkpoint; --help lists the options").set_defaults(
                       handler=_sft)

    p = sub.add_parser("export", help="merge LoRA into the base model and save a trust_remote_code MIMIC-Chat folder")
    p.add_argument("--run", required=True, help="run folder of `mimic train sft`")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint", help="export this checkpoint instead of <run>/final")
    p.set_defaults(handler=_export)

    p = sub.add_parser("demo", help="render, build SFT data, train and export the tiny demo model (CPU, minutes)")
    p.add_argument("--world", required=True)
    p.add_argument("--bench", required=True, help="MIMIC-Bench folder (excluded from training)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="training config with the data options (default: train/configs/"
                   "demo_standins.yaml, or demo_scratch.yaml with --scratch)")
    p.add_argument("--scratch", action="store_true",
                   help="the earlier recipe: a random-init tiny MIMIC-Chat trained in full with a curriculum, instead "
                        "of LoRA SFT on stand-ins pretrained here (see train/README.md)")
    p.set_defaults(handler=_demo)
