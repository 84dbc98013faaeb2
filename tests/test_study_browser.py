"""Headless Chromium signs in to the annotation app, judges two comments, and the judgments land in SQLite.
Inputs are the study's SIMULATED fixture bench and generations."""

import os
import re

import pyarrow.parquet as pq
import pytest

from mimic_eval.study.app import BackgroundServer, create_app
from mimic_eval.study.sheet import build_sheet, load_manifest
from mimic_eval.study.simulate import make_fixture_bench, simulate_generations
from mimic_eval.study.store import StudyStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} absent: apt-get install chromium")
def test_browser_signs_in_and_two_judgments_reach_the_database(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bench = make_fixture_bench(tmp_path / "bench", n_videos=2, seed=9, render_videos=True)
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    gens = simulate_generations(rows, {"model-alpha": 0.2}, tmp_path / "gens.jsonl", seed=9)
    build_sheet(bench, [gens], tmp_path / "study", seed=0, secret=bytes(32))
    store = StudyStore(tmp_path / "j.db", tmp_path / "study")
    ((annotator, token),) = store.issue_tokens(1)
    texts = {m["item_id"]: m["text"] for m in load_manifest(tmp_path / "study")}

    with BackgroundServer(create_app(store)) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Only loopback: external assets (web fonts) would otherwise wait for a network this machine lacks.
        page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"), lambda route: route.abort())
        page.goto(server.url, wait_until="domcontentloaded")
        expect(page.get_by_label("Annotator token")).to_be_visible(timeout=30_000)
        page.get_by_label("Annotator token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Comment 1 of")).to_be_visible(timeout=20_000)
        first_comment = page.get_by_label("Comment").input_value()
        page.get_by_label("Human", exact=True).check()
        page.get_by_label("4", exact=True).check()
        page.get_by_role("button", name="Submit judgment").click()
        expect(page.get_by_text("Comment 2 of")).to_be_visible(timeout=20_000)
        page.get_by_label("AI", exact=True).check()
        page.get_by_label("1", exact=True).check()
        page.get_by_role("button", name="Submit judgment").click()
        expect(page.get_by_text("Comment 3 of")).to_be_visible(timeout=20_000)
        browser.close()

    stored = sorted(store.judgments(), key=lambda j: j["position"])
    assert [(j["annotator_id"], j["judged_human"], j["realism"], j["position"]) for j in stored] == [
        (annotator, True, 4, 1), (annotator, False, 1, 2)]
    assert texts[stored[0]["item_id"]] == first_comment
    assert all(j["session_id"] for j in stored)
