"""The lmms-eval export on rows exactly as `datasets` yields them from a released, hydrated bench folder.

The bench is released with the real card (`mimic_bench.release`), its videos are put where `mimic hydrate` puts them,
and one video is missing (file_name null, as hydration leaves a failed download). The hooks are called the way
lmms-eval calls them; the last test runs lmms-eval itself (its own venv under .cache/, built once, because lmms-eval
pins av<16 and cannot share ours) and checks that its task manager yields the video of every available doc."""

import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset
from eval_helpers import build_bench

from mimic_bench.release import CONFIGS, release
from mimic_bench.scoring import score
from mimic_bench.tasks import TASK_NAMES
from mimic_bench.writer import BUILD_STATS
from mimic_data.io import write_parquet
from mimic_eval.lmms_export import DEFAULT_DATASET_PATH, export_lmms_task

REPO = Path(__file__).resolve().parents[1]
LMMS_EVAL_VERSION = "0.7.3"
LMMS_VENV = REPO / ".cache" / f"lmms-eval-{LMMS_EVAL_VERSION}-venv"
MISSING = "v002x"  # the video whose download "failed"


class _FunctionTagLoader(yaml.SafeLoader):
    pass


_FunctionTagLoader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def released_bench(root: Path, hydrated: bool) -> Path:
    """<root>/MIMIC-Bench as `mimic bench release` writes it; hydrated: videos in place, MISSING's file_name null."""
    built = build_bench(root / "build", n_videos=4, tasks=TASK_NAMES, with_videos=hydrated)
    (built / BUILD_STATS).write_text(json.dumps({"seed": 0, "embedder": "hash"}))
    out = release(built, root / "MIMIC-Bench")
    if hydrated:
        shutil.copytree(built / "videos", out / "videos")
        for config in CONFIGS:
            table = pq.read_table(out / f"{config}.parquet")
            names = [None if vid == MISSING else name for vid, name in
                     zip(table["video_id"].to_pylist(), table["file_name"].to_pylist(), strict=True)]
            index = table.schema.get_field_index("file_name")
            write_parquet(out / f"{config}.parquet", table.set_column(index, "file_name", pa.array(names, pa.string())))
        next((out / "videos").rglob(f"{MISSING}.mp4")).unlink()
    return out


def load_utils(folder: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, folder / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hydrated(tmp_path_factory):
    return released_bench(tmp_path_factory.mktemp("hydrated"), hydrated=True)


def test_hooks_give_the_hydrated_video_and_score_like_the_harness(hydrated, tmp_path):
    out = export_lmms_task(tmp_path / "lmms")
    group = yaml.load((out / "mimic_bench.yaml").read_text(), Loader=_FunctionTagLoader)
    assert group["task"] == [f"mimic_bench_{t}" for t in TASK_NAMES]
    utils = load_utils(out, "mimic_lmms_utils")
    collected, direct = [], []
    for i, task in enumerate(TASK_NAMES):
        cfg = yaml.load((out / f"mimic_bench_{task}.yaml").read_text(), Loader=_FunctionTagLoader)
        assert cfg["dataset_path"] == DEFAULT_DATASET_PATH and cfg["dataset_name"] == task
        assert cfg["doc_to_visual"] == ("function", "utils.doc_to_visual")
        decoded = load_dataset(str(hydrated), task, split="test", cache_dir=str(tmp_path / "hf"))
        assert type(decoded.features["video"]).__name__ == "Video"
        undecoded = utils.process_docs(decoded)  # what lmms-eval hands its models
        for j, (doc, raw) in enumerate(zip(decoded, undecoded, strict=True)):
            expected = [] if doc["video_id"] == MISSING else [str(next(hydrated.rglob(f"{doc['video_id']}.mp4")))]
            assert utils.doc_to_visual(doc) == expected
            assert utils.doc_to_visual(raw) == expected
            text = utils.doc_to_text(doc)
            assert "A. " in text and doc["options"][0] in text
            response = ["The answer is (B).", doc["answer"], "no idea", f"so it's {doc['answer']}"][(i + j) % 4]
            collected.append(utils.process_results(doc, [response])["mimic_bench_acc"])
            direct.append({"question_id": doc["question_id"], "video_id": doc["video_id"], "task": task,
                           "gold": doc["answer"], "response": response, "options": doc["options"]})
    assert len(collected) == 4 * len(TASK_NAMES)
    assert utils.aggregate_accuracy(collected) == pytest.approx(100 * score(direct, n_bootstrap=0)["overall"]["acc"])
    assert 0 < utils.aggregate_accuracy(collected) < 100


def test_unhydrated_bench_gives_no_visual_and_bad_dataset_paths_are_refused(tmp_path, monkeypatch):
    bench = released_bench(tmp_path, hydrated=False)
    out = export_lmms_task(tmp_path / "lmms", dataset_path="my-org/MIMIC-Bench")
    assert yaml.load((out / "mimic_bench_cam_tag.yaml").read_text(),
                     Loader=_FunctionTagLoader)["dataset_path"] == "my-org/MIMIC-Bench"
    utils = load_utils(out, "mimic_lmms_utils2")
    docs = load_dataset(str(bench), "cam_tag", split="test", cache_dir=str(tmp_path / "hf"))
    assert "video" not in docs.features and utils.process_docs(docs) is docs
    assert [utils.doc_to_visual(doc) for doc in docs] == [[]] * 4
    with pytest.raises(ValueError, match="absolute path"):
        export_lmms_task(tmp_path / "x", dataset_path=str(bench))
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="ciu_title.parquet"):
        export_lmms_task(tmp_path / "x", dataset_path="empty")


# ---- lmms-eval itself --------------------------------------------------------------------------------------------

def lmms_eval_python() -> Path:
    """The cached lmms-eval venv's interpreter, built on first use (about 2.5 minutes here; pip from PyPI)."""
    LMMS_VENV.parent.mkdir(parents=True, exist_ok=True)
    marker = LMMS_VENV / "built.json"
    with open(LMMS_VENV.parent / f"{LMMS_VENV.name}.lock", "w") as lock:  # one build when several pytests run
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            shutil.rmtree(LMMS_VENV, ignore_errors=True)
            started = time.monotonic()
            steps = [[sys._base_executable, "-m", "venv", str(LMMS_VENV)],
                     [str(LMMS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"lmms-eval=={LMMS_EVAL_VERSION}"]]
            for step in steps:
                try:
                    subprocess.run(step, check=True, capture_output=True, text=True, timeout=1200)
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
                    detail = (getattr(err, "stderr", None) or str(err)).strip().splitlines()[-1:]
                    pytest.skip(f"cannot build the lmms-eval {LMMS_EVAL_VERSION} venv in {LMMS_VENV} "
                                f"(needs PyPI): {' '.join(step[2:4])} failed: {' '.join(detail)}")
            marker.write_text(json.dumps({"lmms_eval": LMMS_EVAL_VERSION,
                                          "build_s": round(time.monotonic() - started, 1)}))
    return LMMS_VENV / "bin" / "python"


_LMMS_PROBE = r"""
import json, sys
from lmms_eval.tasks import TaskManager, get_task_dict
manager = TaskManager(include_path=sys.argv[1], include_defaults=False)
(group, tasks), = get_task_dict(["mimic_bench"], manager).items()
out = {}
for name, task in tasks.items():
    docs = task.dataset[task.config.test_split]
    out[name] = [[doc["video_id"], task.doc_to_visual(doc), task.doc_to_text(doc)] for doc in docs]
print(json.dumps(out))
"""


def test_lmms_eval_task_manager_yields_the_video_of_every_available_doc(hydrated, tmp_path):
    python = lmms_eval_python()
    tasks_dir = export_lmms_task(tmp_path / "lmms_tasks")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-c", _LMMS_PROBE, str(tasks_dir)], cwd=hydrated.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(seen) == sorted(f"mimic_bench_{t}" for t in TASK_NAMES)
    for docs in seen.values():
        assert len(docs) == 4
        for video_id, visual, text in docs:
            if video_id == MISSING:
                assert visual == []
            else:
                (path,) = visual
                assert Path(path).name == f"{video_id}.mp4" and Path(path).is_file()
            assert text.endswith("Answer with the option's letter (A, B, C or D) only.")
