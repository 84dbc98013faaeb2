"""Load test over loopback: many SIMULATED annotators judge concurrently through the JSON API.

Each simulated annotator signs in, asks for the next item, answers from the simulator and sometimes re-sends the same
judgment (a client retry); afterwards the database must hold every accepted judgment exactly once.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from .sheet import load_manifest
from .simulate import SimulatedAnnotator, default_latents
from .store import StudyStore


def run_simulated_annotators(base_url: str, tokens: list[tuple[str, str]], source_of: dict[str, str],
                             latents: dict[str, float], seed: int = 0, retry_rate: float = 0.1,
                             max_items_per_annotator: int | None = None) -> dict:
    """Drive one thread per token; returns accepted (annotator, item) pairs, counts and request latencies."""
    accepted: list[tuple[str, str]] = []
    latencies: list[float] = []
    lock = threading.Lock()
    counts = {"stored": 0, "duplicate": 0, "errors": 0}

    def one_annotator(pair: tuple[str, str]) -> None:
        annotator_id, token = pair
        sim = SimulatedAnnotator.draw(annotator_id, seed)
        r = random.Random(f"{seed}|{annotator_id}")
        with httpx.Client(base_url=base_url, timeout=60) as client:
            def post(path: str, body: dict) -> httpx.Response:
                start = time.perf_counter()
                response = client.post(path, json=body)
                with lock:
                    latencies.append(time.perf_counter() - start)
                return response

            session = post("/api/signin", {"token": token}).json()["session"]
            done = 0
            while max_items_per_annotator is None or done < max_items_per_annotator:
                item = post("/api/next", {"session": session}).json()
                if item["done"]:
                    break
                answer = sim.judge(item["item_id"], source_of[item["item_id"]], latents)
                body = {"session": session, "item_id": item["item_id"], **answer}
                for _ in range(2 if r.random() < retry_rate else 1):
                    response = post("/api/judge", body)
                    with lock:
                        if response.status_code == 200:
                            counts[response.json()["status"]] += 1
                            if response.json()["status"] == "stored":
                                accepted.append((annotator_id, item["item_id"]))
                        else:
                            counts["errors"] += 1
                done += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        list(pool.map(one_annotator, tokens))
    wall = time.perf_counter() - start
    return {"accepted": accepted, **counts, "wall_s": wall, "requests": len(latencies),
            "latency_p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "latency_p95_ms": 1000 * float(np.percentile(latencies, 95))}


def load_test(study_dir: str, db_path: str, n_annotators: int = 50, seed: int = 0,
              max_items_per_annotator: int | None = None, latents: dict[str, float] | None = None,
              public_dirs: tuple[str, ...] = ()) -> dict:
    """Serve the study on loopback, run the simulated annotators, and check the database against what was accepted."""
    from .app import BackgroundServer, create_app

    store = StudyStore(db_path, study_dir, public_dirs=public_dirs)
    manifest = load_manifest(study_dir)
    source_of = {m["item_id"]: m["source"] for m in manifest}
    latents = {**default_latents(list(source_of.values()), seed), **(latents or {})}
    tokens = store.issue_tokens(n_annotators)
    with BackgroundServer(create_app(store)) as server:
        run = run_simulated_annotators(server.url, tokens, source_of, latents, seed=seed,
                                       max_items_per_annotator=max_items_per_annotator)
    stored = store.judgments()
    stored_pairs = [(j["annotator_id"], j["item_id"]) for j in stored]
    accepted = run.pop("accepted")
    return {"simulated": True, "latents": latents, "n_annotators": n_annotators, "judgments_accepted": len(accepted),
            "judgments_in_db": len(stored), "db_rows_unique": len(set(stored_pairs)) == len(stored_pairs),
            "db_matches_accepted": sorted(stored_pairs) == sorted(accepted),
            "judgments_per_s": len(stored) / run["wall_s"], **run}
