"""The `mimic` command line as a user meets it: every help page opens, and mistakes end in one line on stderr with a
non-zero exit (the traceback only with --debug): a missing model folder, errored samples (unless --allow-errors),
stray files among the leaderboard's run folders."""

import argparse

import pytest
from eval_helpers import build_bench

import mimic_cli
from mimic_cli import build_parser, main
from mimic_eval.adapters.baselines import RandomAdapter


def command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_paths(sub, (*path, name))


def test_every_help_page_of_the_parser_tree_opens(capsys):
    paths = list(command_paths(build_parser()))
    assert ("study", "aggregate") in paths and ("eval", "export-metric") in paths and len(paths) > 30
    for path in paths:
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0, path
        assert capsys.readouterr().out.startswith(f"usage: {' '.join(('mimic', *path))}"), path


def one_error_line(capsys, prefix: str) -> str:
    """The one message line on stderr (progress-bar lines of the run before it are not messages)."""
    lines = [line for line in capsys.readouterr().err.strip().splitlines() if "video/s]" not in line]
    assert len(lines) == 1 and lines[0].startswith(prefix), lines
    return lines[0]


def test_a_missing_or_foreign_model_folder_is_one_line(tmp_path, capsys, monkeypatch):
    bench = build_bench(tmp_path / "bench", n_videos=2, tasks=("cam_cat",), with_videos=False)
    run = ["eval", "run", "--bench", str(bench), "--out", str(tmp_path / "run")]
    assert main([*run, "--model", "mimic-chat:/nonexistent"]) == 1
    assert "mimic-chat:/nonexistent: no such folder" in one_error_line(capsys, "mimic eval: error:")
    (tmp_path / "qwen").mkdir()
    (tmp_path / "qwen" / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    assert main([*run, "--model", f"mimic-chat:{tmp_path / 'qwen'}"]) == 1
    assert "not a MIMIC-Chat folder (model_type 'qwen2_5_vl')" in one_error_line(capsys, "mimic eval: error:")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        main(["--debug", *run, "--model", "mimic-chat:/nonexistent"])
    monkeypatch.setenv(mimic_cli.DEBUG_ENV, "1")
    with pytest.raises(FileNotFoundError):
        main([*run, "--model", "mimic-chat:/nonexistent"])


def test_errored_samples_fail_the_run_unless_allowed_and_a_rerun_retries_them(tmp_path, capsys, monkeypatch):
    bench = build_bench(tmp_path / "bench", n_videos=3, tasks=("cam_cat",), with_videos=False)
    run = ["eval", "run", "--model", "random", "--bench", str(bench), "--out", str(tmp_path / "run"),
           "--conditions", "blind", "--tasks", "cam_cat"]
    answer = RandomAdapter.answer

    def flaky(self, requests):
        if "cam_cat gold green" in requests[0].prompt:  # one of the three questions
            raise RuntimeError("CUDA out of memory")
        return answer(self, requests)

    monkeypatch.setattr(RandomAdapter, "answer", flaky)
    assert main(run) == 1
    line = one_error_line(capsys, "error: 1 sample(s) errored")
    assert "RuntimeError: CUDA out of memory" in line and "--allow-errors" in line
    assert main([*run, "--allow-errors"]) == 0
    assert one_error_line(capsys, "warning: 1 sample(s) errored")
    monkeypatch.setattr(RandomAdapter, "answer", answer)
    assert main(run) == 0
    assert "errored" not in capsys.readouterr().err


def test_leaderboard_skips_stray_files_with_a_warning_naming_them(tmp_path, capsys):
    bench = build_bench(tmp_path / "bench", n_videos=2, tasks=("cam_cat",), with_videos=False)
    runs = tmp_path / "runs"
    assert main(["eval", "run", "--model", "random", "--bench", str(bench), "--out", str(runs / "random"),
                 "--conditions", "blind", "--tasks", "cam_cat"]) == 0
    (runs / "eval.log").write_text("log\n")
    capsys.readouterr()
    assert main(["eval", "leaderboard", str(runs / "random"), str(runs / "eval.log"), "--out",
                 str(tmp_path / "board")]) == 0
    assert f"not run folders: {runs / 'eval.log'}" in one_error_line(capsys, "warning: ignoring 1 path(s)")
    assert "random" in (tmp_path / "board" / "leaderboard.md").read_text()
    assert main(["eval", "leaderboard", str(runs / "eval.log"), "--out", str(tmp_path / "board")]) == 1
    assert "no run folder among" in capsys.readouterr().err
