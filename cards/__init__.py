"""`mimic_cards`: the Hub cards' Jinja2 templates (this folder, shipped as package data) and their one renderer.

Every figure in a card comes from the context, which each artifact's release code fills from files that runs wrote
(`mimic_data.release`, `mimic_bench.release`, `mimic_train.model_card`, `mimic_space.assemble`); templates hold no
numbers. Rendering validates the YAML front matter with huggingface_hub's card classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent
# The Hub's size_categories buckets (a dataset card's YAML field).
_SIZE_BUCKETS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                 (10_000_000, "1M<n<10M"))


def render_card(template_name: str, context: dict[str, Any], kind: str = "dataset") -> str:
    """Render <template_name> from this folder and validate its YAML with huggingface_hub's card classes."""
    from huggingface_hub import DatasetCard, ModelCard, SpaceCard

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template(template_name).render(**context)
    card_class = {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}[kind]
    card = card_class(text)  # parses the YAML block and raises on malformed metadata (the Hub's check needs a network)
    if not card.data.to_dict():
        raise ValueError(f"card {template_name} has no YAML metadata")
    return text


def size_category(n: int) -> str:
    """The Hub's `size_categories` value for n rows."""
    return next((name for limit, name in _SIZE_BUCKETS if n < limit), "10M<n<100M")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats shown with one decimal."""
    def cell(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
