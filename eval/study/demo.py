"""Entry points for `make demo`: a study sheet for the demo models, and a fully SIMULATED study run on it."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

from mimic_data.io import atomic_write_json

from .aggregate import aggregate, write_results
from .export import export_judgments
from .loadtest import load_test
from .proxies import compute_proxies, validate_proxies
from .sheet import build_sheet, load_manifest
from .simulate import make_fixture_bench, simulate_generations

# SIMULATED latent human-likeness of the simulated models used by `simulated_study_demo` (spread like the paper's range).
SIMULATED_MODEL_LATENTS = {"sim-describer": 0.05, "sim-baseline": 0.18, "sim-mid": 0.35, "sim-tuned": 0.62,
                           "sim-strong": 0.75}


def build_demo_sheet(bench_dir: str | os.PathLike, generation_files: list[str | os.PathLike],
                     out_dir: str | os.PathLike, seed: int = 0, n_videos: int | None = 40) -> dict:
    """The blind-test sheet for the demo models' generations (k=3, 2 calibration videos, 3 attention checks)."""
    return build_sheet(bench_dir, generation_files, out_dir, seed=seed, n_videos=n_videos)


def simulated_study_demo(out_dir: str | os.PathLike, seed: int = 0, n_videos: int = 40, n_annotators: int = 50,
                         embedder: str = "tfidf") -> dict:
    """End to end on SIMULATED inputs: fixture bench, simulated generations and annotators (over loopback),
    aggregation, proxies and proxy validation. Every output says it is simulated."""
    out_dir = Path(out_dir)
    bench_dir = make_fixture_bench(out_dir / "sim_bench", n_videos=n_videos, seed=seed, data_dir=out_dir / "sim_data")
    rows = pq.read_table(bench_dir / "comment_generation.parquet").to_pylist()
    generations = simulate_generations(rows, SIMULATED_MODEL_LATENTS, out_dir / "sim_generations.jsonl", seed=seed)
    study_dir = out_dir / "study"
    build_sheet(bench_dir, [generations], study_dir, seed=seed)
    db_path = out_dir / "judgments.db"
    db_path.unlink(missing_ok=True)
    load = load_test(str(study_dir), str(db_path), n_annotators=n_annotators, seed=seed,
                     latents=SIMULATED_MODEL_LATENTS)
    atomic_write_json(out_dir / "load_test.json", load)
    from .export import read_judgments

    judgments = read_judgments(db_path)
    export_judgments(judgments, out_dir / "judgments", simulated=True)
    result = aggregate(judgments, load_manifest(study_dir), seed=seed)
    result["simulated"] = True
    write_results(result, out_dir / "results", title="SIMULATED judgments (not people)")
    proxies = compute_proxies(bench_dir, [generations], out_dir / "sim_data", embedder=embedder, seed=seed)
    atomic_write_json(out_dir / "proxies.json", proxies)
    validation = {**validate_proxies(proxies, result, seed=seed), "simulated_judgments": True}
    atomic_write_json(out_dir / "proxy_validation.json", validation)
    return {"load_test": load, "results": result, "proxies": proxies, "validation": validation}
