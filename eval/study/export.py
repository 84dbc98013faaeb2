"""Export stored judgments to parquet and to a `datasets`-loadable folder (parquet + README YAML config)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from mimic_data.io import atomic_write_text, write_parquet

JUDGMENT_SCHEMA = pa.schema([
    ("judgment_id", pa.string()), ("study_id", pa.string()), ("protocol_version", pa.string()),
    ("app_version", pa.string()), ("annotator_id", pa.string()), ("session_id", pa.string()),
    ("video_id", pa.string()), ("item_id", pa.string()), ("judged_human", pa.bool_()), ("realism", pa.int32()),
    ("position", pa.int32()), ("shown_at", pa.float64()), ("answered_at", pa.float64()), ("latency_ms", pa.int64()),
])
_CARD = """---
configs:
- config_name: default
  data_files: judgments.parquet
---
# Comment-mimicking study judgments

One row per (annotator, comment): Human/AI verdict and realism 0–5, with display position and timestamps. Item ids are
opaque; the item → source map is kept separately by the study owner. {note}
"""


def export_judgments(judgments: list[dict], out_dir: str | os.PathLike, simulated: bool = False) -> Path:
    """Write `judgments.parquet` (sorted, deterministic) and a README so `datasets.load_dataset(out_dir)` loads it."""
    out_dir = Path(out_dir)
    rows = sorted(judgments, key=lambda j: (j["annotator_id"], j["item_id"]))
    write_parquet(out_dir / "judgments.parquet", pa.Table.from_pylist(rows, schema=JUDGMENT_SCHEMA))
    note = "These judgments are SIMULATED (seeded simulator), not from people." if simulated else ""
    atomic_write_text(out_dir / "README.md", _CARD.format(note=note))
    return out_dir / "judgments.parquet"


def read_judgments(path: str | os.PathLike) -> list[dict]:
    """Judgments from an exported parquet file/folder or straight from the study's SQLite database."""
    path = Path(path)
    if path.is_dir():
        path = path / "judgments.parquet"
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [{**dict(r), "judged_human": bool(r["judged_human"])} for r in conn.execute("SELECT * FROM judgments")]
