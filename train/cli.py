"""`mimic train …`: build the isomorphic SFT data, train MIMIC-Chat (TRL + optional LoRA), export, and the demo run."""

from __future__ import annotations


def parse_warmup_block(text: str) -> tuple[tuple[str, ...], int, float]:
    parts = text.split(":")
    if len(parts) in (2, 3) and parts[0]:
        try:
            return tuple(parts[0].split(",")), int(parts[1]), float(parts[2]) if len(parts) == 3 else 0.0
        except ValueError:  # a count or share that is not a number
            pass
    raise ValueError(f"warm-up block {text!r} must look like TASK[,TASK…]:ROWS[:SLOT_TEXT_SHARE]")


def _data(args) -> None:
    from mimic_train.sft_data import build_sft_data

    out = build_sft_data(args.world, args.videos, args.out, bench_dir=args.bench, seed=args.seed,
                         max_videos=args.max_videos, rotations=args.rotations, comment_targets=args.comment_targets,
                         render_missing=not args.no_render, warmup=args.warmup, epochs=args.epochs)
    print(f"wrote SFT data to {out}")


def _sft(args) -> None:
    from mimic_train.config import load_config
    from mimic_train.sft import run_sft

    config = load_config(args.config, args.set, sft_data=args.sft_data, out_dir=args.out, seed=args.seed)
    run_sft(config, resume=False if args.no_resume else (args.resume_from or "auto"))


def _export(args) -> None:
    from mimic_train.export import export_model

    print(f"exported {export_model(args.run, args.out, checkpoint=args.checkpoint)}")


def _demo(args) -> None:
    from mimic_train.demo import train_demo_model

    print(f"demo model at {train_demo_model(args.world, args.bench, args.out, seed=args.seed)}")


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="MIMIC-Chat training: SFT data, SFT + LoRA, export, demo model")
    sub = parser.add_subparsers(dest="train_command", required=True)

    p = sub.add_parser("data", help="isomorphic SFT data (7 MCQ formats + comment generation) from the training pool")
    p.add_argument("--world", required=True, help="MIMIC-Data working folder (records/world/splits.parquet)")
    p.add_argument("--videos", required=True, help="video root (videos/<platform>/<id[:2]>/<id>.mp4)")
    p.add_argument("--out", required=True)
    p.add_argument("--bench", help="MIMIC-Bench folder: its videos are asserted absent from the SFT data")
    p.add_argument("--max-videos", type=int, default=0, help="use at most this many training videos (0 = all)")
    p.add_argument("--rotations", type=int, default=1, help="show each MCQ under this many of its 4 rotations")
    p.add_argument("--comment-targets", type=int, default=1, help="top-liked comments used as targets per video")
    p.add_argument("--no-render", action="store_true", help="do not render missing synthetic videos; skip them")
    p.add_argument("--warmup", action="append", default=[], type=parse_warmup_block, metavar="TASKS:ROWS[:SHARE]",
                   help="curriculum block written first, e.g. cam_cat:6400:1 (every row shows its answer text in the "
                        "video slot) or cam_cat,ciu_title:9600:0.5 (half of them); repeatable")
    p.add_argument("--epochs", type=int, default=0,
                   help="write the rows in training order: warm-up blocks, then this many shuffled passes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_data)

    p = sub.add_parser("sft", help="train with TRL SFTTrainer; resumes from the run's latest checkpoint")
    p.add_argument("--config", help="YAML training config (see train/configs/)")
    p.add_argument("--sft-data", help="folder written by `mimic train data` (overrides the config)")
    p.add_argument("--out", help="run folder (overrides the config's out_dir)")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set training.learning_rate=3e-4 (repeatable)")
    p.add_argument("--resume-from", help="checkpoint folder to resume from (default: the latest in the run folder)")
    p.add_argument("--no-resume", action="store_true", help="start from step 0 even if checkpoints exist")
    p.set_defaults(handler=_sft)

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
    p.set_defaults(handler=_demo)
