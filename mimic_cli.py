"""The `mimic` console script: one subcommand per stage, each registered by the package that owns it."""

import argparse
import importlib
import sys

# subcommand -> module exposing `register(subparsers)`; modules import heavy dependencies inside their handlers.
SUBCOMMANDS = {
    "bench": "mimic_bench.cli",
    "data": "mimic_data.cli",
    "demo": "mimic_demo",
    "eval": "mimic_eval.cli",
    "hydrate": "mimic_data.hydrate.cli",
    "release": "mimic_release",
    "study": "mimic_eval.study.cli",
    "train": "mimic_train.cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimic", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
