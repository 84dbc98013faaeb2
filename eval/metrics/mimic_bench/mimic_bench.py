"""MIMIC-Bench accuracy as an `evaluate` module: a thin wrapper over `score` of the project's one scorer.

The scorer's modules (scoring.py, extract.py, tasks.py, options.py) are copied beside this file when the folder is
exported (`mimic eval export-metric`, `mimic release`), so the folder runs with nothing of the project installed.
evaluate copies into its module cache only the files this script imports itself, hence the imports below that only
bring a file along.
"""

import datasets
import evaluate

# No trailing comments on import lines: evaluate reads text after an import as the URL of a file to fetch.
# options.py is imported only so that evaluate copies it (extract.py needs it); pyproject's ruff config allows that.
from .extract import RULES
from .options import normalise
from .scoring import score
from .tasks import TASK_NAMES

_DESCRIPTION = """
Scores MIMIC-Bench multiple-choice replies. Raw model text is read by the documented extraction ladder
(exact letter, last anchored phrase, option label, unique option text, lone letter; never a random guess).
Returns per-task, per-axis (CIU/CAM/UIU) and overall accuracy, where overall is the micro average over all
questions and unparsed replies count as wrong (`acc`), plus `acc_valid`, `unparsed_rate`, video-clustered bootstrap
95 % intervals, circular accuracy (when rotations are given), per-letter recall and the count of each extraction rule.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: raw model replies (str).
    references: gold letters (A-D) as shown to the model.
    question_ids, video_ids, tasks: per reply; tasks are config names ({tasks}).
    options: per reply, the option texts in the order shown (lets the ladder match option text).
    rotations (optional, list of int or None): rotation index per reply, for circular accuracy.
    conditions (optional, list of str): video | blind | single_frame | blank per reply.
    n_bootstrap (optional, int, default 1000), seed (optional, int, default 0).
Returns:
    exactly what mimic_bench.scoring.score returns for the same samples; `parse_rules` counts the replies each
    extraction rule read ({rules}).
Examples:
    >>> metric = evaluate.load("mimic_bench")  # the exported folder, or "<org>/mimic_bench" on the Hub
    >>> result = metric.compute(predictions=["The answer is C"], references=["C"], question_ids=["cam_cat:x"],
    ...                         video_ids=["x"], tasks=["cam_cat"], options=[["Music", "Sports", "Comedy", "Gaming"]])
    >>> result["overall"]["acc"]
    1.0
""".format(tasks=", ".join(TASK_NAMES), rules=", ".join(RULES))

_CITATION = """
@inproceedings{mimicbench2026,
  title={MIMIC-Bench: Exploring the User-Like Thinking and Mimicking Capabilities of Multimodal Large Language Models},
  booktitle={International Conference on Learning Representations (ICLR)},
  year={2026}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MimicBench(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Value("string"),
                "question_ids": datasets.Value("string"),
                "video_ids": datasets.Value("string"),
                "tasks": datasets.Value("string"),
                "options": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions, references, question_ids, video_ids, tasks, options, rotations=None,
                 conditions=None, n_bootstrap=1000, seed=0):
        samples = []
        for i, (response, gold, qid, vid, task, shown) in enumerate(
                zip(predictions, references, question_ids, video_ids, tasks, options, strict=True)):
            sample = {"question_id": qid, "video_id": vid, "task": task, "gold": gold, "response": response,
                      "options": list(shown)}
            if rotations is not None:
                sample["rotation"] = rotations[i]
            if conditions is not None:
                sample["condition"] = conditions[i]
            samples.append(sample)
        return score(samples, n_bootstrap=n_bootstrap, seed=seed)
