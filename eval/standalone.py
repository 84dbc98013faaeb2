"""Self-contained copies of the one scorer, for folders that must run where this project is not installed.

The `evaluate` metric folder (`export_metric`, released by `mimic release` and `mimic eval export-metric`) and the
lmms-eval task folder (`mimic_eval.lmms_export`) ship the scorer as files beside their own code, copied at export time
from the one implementation: `mimic_bench/tasks.py`, `extract.py`, `scoring.py` (and `prompts.py` for lmms-eval)
byte for byte, plus an `options.py` assembled from the source of the text normaliser they call
(`mimic_bench.options.normalise` -> `mimic_data.select.normalise_title`), whose own module needs numpy/pyarrow.
Nothing is re-implemented, so the copies score exactly like `mimic_bench.scoring.score`
(tests/test_eval_standalone.py compares them in a process where the project cannot be imported).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mimic_data.io import atomic_write_text

METRIC_NAME = "mimic_bench"  # evaluate.load(folder) runs <folder>/<folder name>.py, so the folder carries this name
METRIC_SOURCE = Path(__file__).resolve().parent / "metrics" / METRIC_NAME
METRIC_FILES = (f"{METRIC_NAME}.py", "README.md", "app.py", "requirements.txt")
SCORER_MODULES = ("tasks", "extract", "scoring")  # what mimic_bench.scoring.score needs, besides options.py
PROMPT_MODULE = "prompts"
_PROJECT_IMPORT = re.compile(r"^(?:from|import)\s+(?:mimic_data|mimic_bench|mimic_eval)\b", re.MULTILINE)


def _options_source() -> str:
    from mimic_bench import options
    from mimic_data import select

    pattern = select._NON_WORD
    return "\n\n\n".join([
        '"""Copied from the MIMIC-Bench project by `mimic_eval.standalone`: `normalise` of mimic_bench/options.py and\n'
        'the function it calls, mimic_data/select.py `normalise_title` (their modules need numpy/pyarrow)."""',
        "import re\nimport unicodedata",
        f"_NON_WORD = re.compile({pattern.pattern!r}, {int(pattern.flags)})",
        inspect.getsource(select.normalise_title).rstrip(),
        inspect.getsource(options.normalise).rstrip(),
    ]) + "\n"


def write_scorer(dest: str | Path, with_prompts: bool = False) -> list[Path]:
    """Write the scorer's modules into `dest` (their relative imports resolve among themselves); returns the files."""
    import mimic_bench

    dest, package = Path(dest), Path(mimic_bench.__file__).resolve().parent
    names = SCORER_MODULES + ((PROMPT_MODULE,) if with_prompts else ())
    written = []
    for name in names:
        source = (package / f"{name}.py").read_text(encoding="utf-8")
        if _PROJECT_IMPORT.search(source):  # a new absolute import would break the copy where the project is absent
            raise RuntimeError(f"mimic_bench/{name}.py imports the project by absolute name; it cannot be vendored")
        written.append(atomic_write_text(dest / f"{name}.py", source))
    written.append(atomic_write_text(dest / "options.py", _options_source()))
    return written


def export_metric(out_dir: str | Path) -> Path:
    """The `evaluate` metric folder: eval/metrics/mimic_bench (module, card, Space app) + the scorer; returns it."""
    out = Path(out_dir)
    if out.name != METRIC_NAME:
        raise ValueError(f"{out}: evaluate.load needs the folder named like its module, i.e. .../{METRIC_NAME}")
    for name in METRIC_FILES:
        atomic_write_text(out / name, (METRIC_SOURCE / name).read_text(encoding="utf-8"))
    write_scorer(out)
    return out
