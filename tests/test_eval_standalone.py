"""The released `evaluate` metric folder scores without the project: the scorer is copied into it from the one
implementation, and `mimic_release.validate_metric_folder` loads it with evaluate.load in a fresh process where no
project package can be imported and compares every figure with mimic_bench.scoring.score on the same replies."""

from pathlib import Path

import pytest

import mimic_bench
from mimic_eval.standalone import METRIC_NAME, export_metric, write_scorer
from mimic_release import ReleaseError, metric_probe_samples, validate_metric_folder


def test_exported_metric_scores_like_the_project_with_the_project_absent(tmp_path):
    folder = export_metric(tmp_path / METRIC_NAME)
    assert {p.name for p in folder.iterdir()} == {"mimic_bench.py", "README.md", "app.py", "requirements.txt",
                                                  "scoring.py", "extract.py", "tasks.py", "options.py"}
    source = Path(mimic_bench.__file__).parent
    for name in ("scoring.py", "extract.py", "tasks.py"):  # copied, not forked
        assert (folder / name).read_bytes() == (source / name).read_bytes()
    checked = validate_metric_folder(folder)
    assert checked["n_probe_samples"] == len(metric_probe_samples()) == 7 * 4 * 2 * 2
    # the probe replies reach every rung of the ladder, so the comparison covers all of extraction
    assert set(checked["parse_rules"]) == {"exact", "anchored", "label", "option_text", "letter_token", "unparsed",
                                           "empty"}
    assert 0 < checked["overall_acc"] < 1


def test_a_metric_folder_that_needs_the_project_is_refused(tmp_path):
    folder = export_metric(tmp_path / METRIC_NAME)
    (folder / "options.py").write_text("from mimic_bench.options import normalise\n")
    with pytest.raises(ReleaseError, match="project module mimic_bench"):
        validate_metric_folder(folder)
    with pytest.raises(ValueError, match=r"named like its module, i.e. \.\.\./mimic_bench"):
        export_metric(tmp_path / "metric")


def test_the_lmms_copy_carries_the_prompt_renderer_too(tmp_path):
    names = sorted(p.name for p in write_scorer(tmp_path, with_prompts=True))
    assert names == ["extract.py", "options.py", "prompts.py", "scoring.py", "tasks.py"]
