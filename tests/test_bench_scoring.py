"""The one scorer: micro overall, unparsed counted wrong, circular, per-letter recall, clustered CIs, conditions, and
the `evaluate` module returning exactly the same dict."""

import evaluate
import pytest

from mimic_bench.scoring import SampleError, score

OPTIONS = ["Music", "Sports", "Comedy", "Gaming"]


def _sample(task, video, gold, response, **extra):
    return {"question_id": f"{task}:{video}", "video_id": video, "task": task, "gold": gold, "response": response,
            "options": OPTIONS, **extra}


def test_overall_is_micro_not_macro():
    # cam_cat: 1/1 right; uiu_pop: 1/3 right -> micro 2/4 = 0.5, macro (1 + 1/3) / 2 = 0.667
    samples = [_sample("cam_cat", "v1", "A", "A"),
               _sample("uiu_pop", "v1", "B", "B"), _sample("uiu_pop", "v2", "B", "C"), _sample("uiu_pop", "v3", "D", "A")]
    result = score(samples, n_bootstrap=0)
    assert result["overall"]["acc"] == pytest.approx(0.5)
    assert result["macro_task_mean"] == pytest.approx(2 / 3)
    assert result["per_task"]["uiu_pop"]["acc"] == pytest.approx(1 / 3)
    assert result["per_axis"]["CAM"]["acc"] == 1.0 and result["per_axis"]["UIU"]["acc"] == pytest.approx(1 / 3)


def test_unparsed_counts_wrong_and_valid_only_beside_it():
    samples = [_sample("ciu_title", "v1", "A", "The answer is A"), _sample("ciu_title", "v2", "B", "B or C"),
               _sample("ciu_title", "v3", "C", ""), _sample("ciu_title", "v4", "D", "Sports")]
    result = score(samples, n_bootstrap=0)
    overall = result["overall"]
    assert overall["acc"] == pytest.approx(1 / 4)  # only v1 right; v4 reads B (option text), gold D
    assert overall["acc_valid"] == pytest.approx(1 / 2)
    assert overall["unparsed_rate"] == pytest.approx(1 / 2)
    assert result["parse_rules"] == {"anchored": 1, "empty": 1, "option_text": 1, "unparsed": 1}


def test_circular_needs_every_rotation_right_and_headline_uses_rotation_zero():
    samples = []
    for r in range(4):
        samples.append(_sample("cam_tag", "v1", "ABCD"[r], "ABCD"[r], rotation=r))  # always right
        samples.append(_sample("cam_tag", "v2", "ABCD"[r], "A", rotation=r))  # right only when gold is A
    block = score(samples, n_bootstrap=0)["per_task"]["cam_tag"]
    assert block["acc"] == 1.0  # rotation 0: both right
    assert block["circular"] == {"circular_acc": 0.5, "n_questions": 2, "acc_all_rotations": pytest.approx(5 / 8)}


def test_per_letter_recall_exposes_position_bias():
    samples = [_sample("cam_cat", f"v{i}", gold, "A") for i, gold in enumerate("AABBCCDD")]
    block = score(samples, n_bootstrap=0)["per_task"]["cam_cat"]
    assert block["per_letter_recall"] == {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0}
    assert block["rstd"] == pytest.approx(0.4330127)


def test_bootstrap_resamples_videos_and_is_seeded():
    # v1 carries 7 right answers, v2 7 wrong ones: a video-clustered interval must be wide.
    samples = [_sample(t, "v1", "A", "A") for t in ("ciu_title", "ciu_desc", "cam_tag", "cam_topic", "cam_cat",
                                                     "uiu_match", "uiu_pop")]
    samples += [_sample(t, "v2", "A", "B") for t in ("ciu_title", "ciu_desc", "cam_tag", "cam_topic", "cam_cat",
                                                      "uiu_match", "uiu_pop")]
    a, b = score(samples, seed=3), score(samples, seed=3)
    assert a == b
    assert a["overall"]["ci_low"] == 0.0 and a["overall"]["ci_high"] == 1.0


def test_letters_given_directly_and_conditions():
    samples = [{"question_id": "cam_cat:v1", "video_id": "v1", "task": "cam_cat", "gold": "A", "letter": "A"},
               {"question_id": "cam_cat:v1", "video_id": "v1", "task": "cam_cat", "gold": "A", "letter": "C",
                "condition": "blind"},
               {"question_id": "cam_cat:v2", "video_id": "v2", "task": "cam_cat", "gold": "B", "letter": None,
                "condition": "blind"}]
    result = score(samples, n_bootstrap=0)
    assert result["condition"] == "video" and result["overall"]["acc"] == 1.0
    assert result["by_condition"]["blind"]["overall"]["acc"] == 0.0
    assert result["by_condition"]["blind"]["overall"]["unparsed_rate"] == 0.5
    assert result["video_gain"] == {"cam_cat": 1.0}


@pytest.mark.parametrize(("bad", "message"), [
    ({"task": "nope"}, "unknown task 'nope'"),
    ({"gold": "E"}, "gold must be one of"),
    ({"video_id": None}, "missing 'video_id'"),
])
def test_bad_samples_are_named(bad, message):
    sample = {**_sample("cam_cat", "v9", "A", "A"), **bad}
    with pytest.raises(SampleError, match=message) as info:
        score([sample], n_bootstrap=0)
    assert "cam_cat:v9" in str(info.value)


def test_duplicate_samples_are_rejected():
    with pytest.raises(SampleError, match="duplicate"):
        score([_sample("cam_cat", "v1", "A", "A"), _sample("cam_cat", "v1", "A", "B")], n_bootstrap=0)


def test_evaluate_module_returns_exactly_the_scorer_output(tmp_path):
    from mimic_eval.standalone import METRIC_NAME, export_metric

    metric = evaluate.load(str(export_metric(tmp_path / METRIC_NAME)))  # the folder as released: the scorer copied in
    responses = ["The answer is C", "(B)", "Option D: Gaming", "sports", "", "A man walks, so the answer is C"]
    golds = ["C", "A", "D", "B", "A", "C"]
    tasks = ["cam_cat", "uiu_pop", "ciu_title", "cam_tag", "uiu_match", "cam_cat"]
    videos = ["v1", "v1", "v2", "v2", "v3", "v4"]
    qids = [f"{t}:{v}" for t, v in zip(tasks, videos, strict=True)]
    result = metric.compute(predictions=responses, references=golds, question_ids=qids, video_ids=videos, tasks=tasks,
                            options=[OPTIONS] * len(responses), n_bootstrap=200, seed=1)
    expected = score([_sample(t, v, g, r) for t, v, g, r in zip(tasks, videos, golds, responses, strict=True)],
                     n_bootstrap=200, seed=1)
    assert result == expected
    assert result["overall"]["acc"] == pytest.approx(4 / 6)
