"""The answer-extraction ladder on realistic model outputs, traps included (the anchors' known failures)."""

import pytest

from mimic_bench.extract import RULES, extract_answer

OPTIONS = [
    "Red ball slides right in the stadium",
    "POV: the blue box rises",
    "Sports",
    "this green kite falls and then grows",
]

CASES = [
    # (model output, expected letter, expected rule)
    ("C", "C", "exact"),
    ("(B)", "B", "exact"),
    ("c", "C", "exact"),
    ("  d.  ", "D", "exact"),
    ("**A**", "A", "exact"),
    ("[D]", "D", "exact"),
    ("B.", "B", "exact"),
    ("'C'", "C", "exact"),
    ("A man walks, so the answer is C", "C", "anchored"),
    ("Based on the video, the answer is C.", "C", "anchored"),
    ("The correct answer is (B)", "B", "anchored"),
    ("Answer: D", "D", "anchored"),
    ("answer: b", "B", "anchored"),
    ("The answer is (c).", "C", "anchored"),
    ("Final answer: **B**", "B", "anchored"),
    ("I think it's A at first, but looking again the final answer is D.", "D", "anchored"),
    ("Option A is wrong because the object is red. The answer is C.", "C", "anchored"),
    ("The best option is B: the box rises.", "B", "anchored"),
    ("I would choose D", "D", "anchored"),
    ("I'd go with C.", "C", "anchored"),
    ("The correct option is Option A", "A", "anchored"),
    ("The answer is B, not C.", "B", "anchored"),
    ("My choice: C", "C", "anchored"),
    ("Answer - A", "A", "anchored"),
    ("The answer is: D", "D", "anchored"),
    ("<think>Maybe A? The kite falls... no.</think>The answer is D", "D", "anchored"),
    ("Option D: this green kite falls and then grows", "D", "label"),
    ("(B) POV: the blue box rises", "B", "label"),
    ("C. Sports", "C", "label"),
    ("A) Red ball slides right in the stadium", "A", "label"),
    ("b) the blue box", "B", "label"),
    ("Sports", "C", "option_text"),
    ("sports", "C", "option_text"),
    ("It is clearly 'POV: the blue box rises'.", "B", "option_text"),
    ("The video shows: this green kite falls and then grows!", "D", "option_text"),
    ("I think C is right.", "C", "letter_token"),
    ("Looks like B to me", "B", "letter_token"),
    ("A ball rolls and then it is C", "C", "letter_token"),
    ("B or C", None, "unparsed"),
    ("A and D both fit", None, "unparsed"),
    ("B, C", None, "unparsed"),
    ("", None, "empty"),
    ("   ", None, "empty"),
    (None, None, "empty"),
    ("I cannot determine this from the video.", None, "unparsed"),
    ("the answer is a dog playing", None, "unparsed"),
    ("E", None, "unparsed"),
    ("The answer is E", None, "unparsed"),
    ("A man is walking in a park", None, "unparsed"),
]


@pytest.mark.parametrize(("output", "letter", "rule"), CASES)
def test_ladder_reads_realistic_outputs(output, letter, rule):
    assert extract_answer(output, OPTIONS) == (letter, rule)


def test_enough_cases_and_every_rule_exercised():
    assert len(CASES) >= 40
    assert {rule for _, _, rule in CASES} == set(RULES)


def test_nested_option_texts_pick_the_longer_one():
    options = ["ball", "red ball slides right", "box", "kite"]
    assert extract_answer("It's the red ball slides right one", options) == ("B", "option_text")


def test_letters_beyond_the_options_are_never_read():
    assert extract_answer("D", ["x", "y", "z"]) == (None, "unparsed")


def test_deterministic():
    outputs = [extract_answer(o, OPTIONS) for o, _, _ in CASES]
    assert outputs == [extract_answer(o, OPTIONS) for o, _, _ in CASES]
