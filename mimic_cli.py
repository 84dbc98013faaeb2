"""The `mimic` console script: one subcommand per stage, each registered by the package that owns it."""

import argparse
import importlib
import os
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


# Errors that mean "the input or the set-up is wrong", not "the code is wrong": they end in one line on stderr and exit
# status 1; any other exception keeps its traceback. Most project errors subclass ValueError (RecordError,
# SampleError, BenchError, StudyError, ...); the others are named here by module, and looked up only when their module
# was imported (which it must have been for one to be raised), so `mimic` does not import them all at start.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError)
PROJECT_ERRORS = {"mimic_release": "ReleaseError", "mimic_eval.adapters.openai_api": "ApiError",
                  "modeling_mimic_chat.frames_mimic_chat": "VideoDecodeError", "mimic_space.comment_engine": "UserFacingError",
                  "mimic_train.sft": "TimeCapReached"}
DEBUG_ENV = "MIMIC_DEBUG"


def user_error_types() -> tuple[type[BaseException], ...]:
    loaded = (getattr(sys.modules[module], name, None) for module, name in PROJECT_ERRORS.items() if module in sys.modules)
    return USER_ERRORS + tuple(error for error in loaded if error is not None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimic", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help=f"show the full traceback when a command fails on bad input (or set {DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except user_error_types() as err:
        if args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"mimic {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
