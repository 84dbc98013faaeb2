"""Render the Hub cards in cards/ (Jinja2 templates with YAML front matter) and check their metadata.

Every figure in a card comes from the context, which callers fill from files that runs wrote; templates hold no numbers.
The templates live in the repository's cards/ folder (the release is built from a checkout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

CARDS_DIR = Path(__file__).resolve().parents[1] / "cards"


def render_card(template_name: str, context: dict[str, Any], kind: str = "dataset") -> str:
    """Render cards/<template_name> and validate its YAML with huggingface_hub's card classes."""
    from huggingface_hub import DatasetCard, ModelCard, SpaceCard

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(CARDS_DIR), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template(template_name).render(**context)
    card_class = {"dataset": DatasetCard, "model": ModelCard, "space": SpaceCard}[kind]
    card = card_class(text)  # parses the YAML block and raises on malformed metadata (the Hub's check needs a network)
    if not card.data.to_dict():
        raise ValueError(f"card {template_name} has no YAML metadata")
    return text


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; floats shown with one decimal."""
    def cell(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
