"""Answer extraction: a deterministic ladder from a model's raw text to a letter, never a random guess.

Rules, tried in order; the first that decides wins and its name is logged with the sample:

1. `exact`      the whole reply is one letter, case-insensitive, optionally wrapped: "C", "(b)", "**D**", "C."
2. `anchored`   an answer phrase followed by a letter; the LAST such phrase wins, so a model that reasons first and
                concludes later is read at its conclusion: "A man walks, so the answer is C" -> C,
                "Answer: (b)" -> B, "I'd go with D." -> D. A lowercase letter counts only where it cannot be the
                article "a" ("the answer is a dog" decides nothing).
3. `label`      the reply opens with a lettered option label: "Option D: …", "(B) the red ball…", "C. Sports".
4. `option_text` exactly one option's text appears in the reply (after normalisation; an option contained in a longer
                matching option does not count separately): "Sports" -> the letter of the option "Sports".
5. `letter_token` exactly one distinct capital A–D stands alone in the reply, not counting the article "A" before a
                lowercase word: "I think C." -> C; "B or C" decides nothing (two letters).
6. `unparsed`   nothing decided (also `empty` for an empty reply). Unparsed counts as wrong in the headline accuracy.

Text before a closing `</think>` tag is dropped first (reasoning models' scratchpad).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .options import normalise

RULES = ("exact", "anchored", "label", "option_text", "letter_token", "unparsed", "empty")

_WRAP = "*_`'\"“”‘’ \t\r\n"
_ANCHOR = (r"\b(?:(?:final|correct|right|best)\s+answer|answer|(?:correct|right|best)\s+(?:option|choice)|"
           r"i(?:\s+would|\s+will|'d|’d|'ll|’ll)?\s+(?:choose|pick|select|go\s+with)|my\s+choice)")
_CONNECT = r"(?:\s*(?:is|would\s+be|should\s+be|:|=|-|—))*\s*(?:(?:option|letter|choice)\s*)?"


def _letter_pattern(letters: str) -> str:
    upper, lower = letters, letters.lower()
    # An uppercase letter needs only a word boundary; a lowercase one must be wrapped or followed by punctuation/end.
    return (rf"(?:[\(\[\*]*\s*(?P<u>[{upper}])\b(?!'|’)|[\(\[]\s*(?P<lw>[{lower}])\s*[\)\]]"
            rf"|\*\*(?P<lb>[{lower}])\*\*|(?P<lp>[{lower}])(?=\s*(?:[.,;:!)\]]|$)))")


def extract_answer(text: str | None, options: Sequence[str]) -> tuple[str | None, str]:
    """(letter or None, rule) for a reply to a question whose options are shown, in this order, as A, B, C, …"""
    letters = "ABCDEFGH"[: len(options)]
    if text is None or not text.strip():
        return None, "empty"
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    stripped = text.strip(_WRAP).rstrip(".").strip(_WRAP)
    bare = re.fullmatch(r"[\(\[]?\s*([A-Za-z])\s*[\)\]]?", stripped)
    if bare and bare.group(1).upper() in letters:
        return bare.group(1).upper(), "exact"

    anchored = re.compile(_ANCHOR + _CONNECT + _letter_pattern(letters))
    hits = [m for m in anchored.finditer(_lower_keywords(text)) if _letter_of(m)]
    if hits:
        return _letter_of(hits[-1]).upper(), "anchored"

    label = re.match(rf"\s*[\*_]*\s*(?:option\s+|choice\s+)?[\(\[]?([{letters}{letters.lower()}])[\)\]\.:]"
                     rf"(?:\s|$)", text, re.IGNORECASE)
    if label is None:
        label = re.match(rf"\s*[\*_]*\s*(?:option|choice)\s+([{letters}])\b", text, re.IGNORECASE)
    if label and label.group(1).upper() in letters:
        return label.group(1).upper(), "label"

    reply = normalise(text)
    normalised = [normalise(o) for o in options]
    found = [i for i, o in enumerate(normalised) if o and re.search(rf"(?:^|\s){re.escape(o)}(?:\s|$)", reply)]
    found = [i for i in found if not any(j != i and normalised[i] in normalised[j] for j in found)]
    if len(found) == 1:
        return letters[found[0]], "option_text"

    # "A" before a lowercase word is the article, unless that word is one that follows a letter ("A or B", "A is").
    tokens = {m.group(1) for m in re.finditer(rf"(?<![\w'’])([{letters}])(?![\w'’])(?!\s+(?!{_AFTER_LETTER}\b)[a-z])",
                                              text)}
    tokens |= {m.group(1) for m in re.finditer(rf"(?<![\w'’])([{letters[1:]}])(?![\w'’])", text)}
    if len(tokens) == 1:
        return tokens.pop(), "letter_token"
    return None, "unparsed"


_AFTER_LETTER = "(?:and|or|nor|is|was|fits|matches|seems|looks|vs)"
_SINGLE_LETTERS = set("ABCDEFGHabcdefgh")


def _lower_keywords(text: str) -> str:
    """Lowercase everything except standalone capital letters, so anchors match case-insensitively while a letter
    keeps its case (the case decides whether a lone "a" may be a letter)."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0) if m.group(0) in _SINGLE_LETTERS else m.group(0).lower(), text)


def _letter_of(match: re.Match) -> str | None:
    for name in ("u", "lw", "lb", "lp"):
        if match.group(name):
            return match.group(name)
    return None
