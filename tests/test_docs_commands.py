"""Every `mimic …` line in the shell blocks of README.md, the card templates and the folder READMEs parses with the
real parser, so no document tells a user to run a command that does not exist; the ones that need nothing but the
project (the two exports) also run, from a scratch folder."""

import re
import shlex
from pathlib import Path

import pytest

from mimic_cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted({REPO / "README.md", *REPO.glob("cards/*.md"), *REPO.glob("*/README*.md"), *REPO.glob("*/*/README*.md")}
              - set(REPO.glob(".*/**/*.md")))
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUNNABLE = {("eval", "export-metric"), ("eval", "export-lmms")}  # offline, seconds, write only under --out


def documented_commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for block in SHELL_BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"\1", line.strip().removeprefix("$ "))  # card placeholders
                line = re.sub(r"\[(--[^\]]*)\]", r"\1", line)  # usage-style [--optional …]: check the options too
                if line.startswith("mimic "):
                    found.append((f"{doc.relative_to(REPO)}: {line}", shlex.split(line, comments=True)[1:]))
    return found


COMMANDS = documented_commands()


def test_the_documents_hold_the_commands_users_need():
    lines = " ".join(where for where, _ in COMMANDS)
    for needed in ("mimic hydrate download", "mimic eval run", "mimic eval export-lmms", "mimic release",
                   "mimic bench build"):
        assert needed in lines, needed
    assert len({where.split(":")[0] for where, _ in COMMANDS}) >= 4


def materialise_paths(argv: list[str], root: Path) -> None:
    """Create under root the relative paths a command names (a repo file is copied; other names become folders), as
    they would exist on a user's disk: some arguments are checked for existence while parsing."""
    for token in argv:
        if token.startswith("-") or "/" not in token or "*" in token or ":" in token or token.startswith("/"):
            continue
        target = root / token
        if (REPO / token).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((REPO / token).read_bytes())
        else:
            target.mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("where,argv", COMMANDS, ids=[where.split("#")[0].strip() for where, _ in COMMANDS])
def test_documented_command_parses(where, argv, tmp_path, monkeypatch):
    parse_dir, run_dir = tmp_path / "parse", tmp_path / "run"
    parse_dir.mkdir()
    run_dir.mkdir()
    materialise_paths(argv, parse_dir)
    monkeypatch.chdir(parse_dir)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        if exit_.code == 0 and "--help" in argv:
            return
        pytest.fail(f"{where}: the parser refuses it (exit {exit_.code})")
    path = tuple(v for k, v in vars(args).items() if k == "command" or k.endswith("_command"))
    if path in RUNNABLE:
        monkeypatch.chdir(run_dir)
        assert main(argv) == 0, where
        assert any(run_dir.iterdir()), f"{where} wrote nothing"
