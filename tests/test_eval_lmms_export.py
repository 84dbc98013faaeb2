"""The lmms-eval export: YAMLs that lmms-eval can read and hooks that score exactly like `mimic eval`.

lmms-eval itself cannot be installed beside this project's pins (it downgrades PyAV), so the hooks are exercised here
the way lmms-eval calls them: doc_to_visual/doc_to_text per doc, process_results per response, then the aggregation."""

import importlib.util

import pyarrow.parquet as pq
import pytest
import yaml
from eval_helpers import build_bench

from mimic_bench.scoring import score
from mimic_bench.tasks import TASK_NAMES
from mimic_eval.lmms_export import export_lmms_task


class _FunctionTagLoader(yaml.SafeLoader):
    pass


_FunctionTagLoader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def test_export_scores_like_the_harness(tmp_path):
    bench = build_bench(tmp_path / "bench", n_videos=4, tasks=TASK_NAMES)
    out = export_lmms_task(bench, tmp_path / "lmms")
    group = yaml.load((out / "mimic_bench.yaml").read_text(), Loader=_FunctionTagLoader)
    assert group["task"] == [f"mimic_bench_{t}" for t in TASK_NAMES]
    spec = importlib.util.spec_from_file_location("mimic_lmms_utils", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    collected, direct = [], []
    for i, task in enumerate(TASK_NAMES):
        cfg = yaml.load((out / f"mimic_bench_{task}.yaml").read_text(), Loader=_FunctionTagLoader)
        assert cfg["dataset_name"] == task and cfg["doc_to_text"] == ("function", "utils.doc_to_text")
        for j, doc in enumerate(pq.read_table(bench / f"{task}.parquet").to_pylist()):
            assert "A. " in utils.doc_to_text(doc) and doc["options"][0] in utils.doc_to_text(doc)
            visual = utils.doc_to_visual(doc)
            assert visual == [str(bench / doc["file_name"])]
            response = ["The answer is (B).", doc["answer"], "no idea", f"so it's {doc['answer']}"][(i + j) % 4]
            collected.append(utils.process_results(doc, [response])["mimic_bench_acc"])
            direct.append({"question_id": doc["question_id"], "video_id": doc["video_id"], "task": task,
                           "gold": doc["answer"], "response": response, "options": doc["options"]})
    assert utils.aggregate_accuracy(collected) == pytest.approx(100 * score(direct, n_bootstrap=0)["overall"]["acc"])
    assert 0 < utils.aggregate_accuracy(collected) < 100


def test_missing_video_gives_no_visual_and_not_a_bench_folder_is_refused(tmp_path):
    bench = build_bench(tmp_path / "bench", n_videos=2, tasks=TASK_NAMES, with_videos=False)
    out = export_lmms_task(bench, tmp_path / "lmms")
    spec = importlib.util.spec_from_file_location("mimic_lmms_utils2", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    doc = pq.read_table(bench / "cam_tag.parquet").to_pylist()[0]
    assert utils.doc_to_visual(doc) == []
    with pytest.raises(FileNotFoundError, match="ciu_title.parquet"):
        export_lmms_task(tmp_path / "empty", tmp_path / "x")
