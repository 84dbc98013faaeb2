"""Headless Chromium does a whole annotator session: sign in, judge, reload the page and resume where it stopped,
finish; every judgment lands in SQLite once. Screenshots go to runs/test-ui/study/ for people to look at.
Inputs are the study's SIMULATED fixture bench and generations."""

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from browser_helpers import launch_chromium, needs_chromium

from mimic_bench.writer import default_study_pool_dir
from mimic_eval.study.app import DONE_MESSAGE, BackgroundServer, create_app
from mimic_eval.study.sheet import build_sheet, load_manifest
from mimic_eval.study.simulate import make_fixture_bench, simulate_generations
from mimic_eval.study.store import StudyStore

SCREENSHOTS = Path(__file__).resolve().parents[1] / "runs" / "test-ui" / "study"


def _judge(page, expect, position, n_items, verdict, realism):
    expect(page.get_by_text(f"Comment {position} of {n_items}")).to_be_visible(timeout=20_000)
    shown = page.get_by_label("Comment").input_value()
    page.get_by_label(verdict, exact=True).check()
    page.get_by_label(str(realism), exact=True).check()
    page.get_by_role("button", name="Submit judgment").click()
    return shown


@pytest.mark.browser
@needs_chromium
def test_browser_session_signs_in_judges_resumes_after_reload_and_finishes(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bench = make_fixture_bench(tmp_path / "bench", n_videos=1, seed=9, render_videos=True)
    rows = pq.read_table(bench / "comment_generation.parquet").to_pylist()
    gens = simulate_generations(rows, {"model-alpha": 0.2}, tmp_path / "gens.jsonl", seed=9)
    build_sheet(bench, [gens], tmp_path / "study", pool_dir=default_study_pool_dir(bench), seed=0, secret=bytes(32),
                n_calibration=1, n_attention=1)
    store = StudyStore(tmp_path / "j.db", tmp_path / "study")
    ((annotator, token),) = store.issue_tokens(1)
    texts = {m["item_id"]: m["text"] for m in load_manifest(tmp_path / "study")}
    n_items = len(texts)  # 5 real comments, 1 model comment, 1 attention check
    answers = [("Human", 4), ("AI", 1), ("Human", 5), ("AI", 0), ("AI", 2), ("Human", 3), ("AI", 0)][:n_items]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    shown = []
    with BackgroundServer(create_app(store)) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        # Only loopback: external assets (web fonts) would otherwise wait for a network this machine lacks.
        page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/])"), lambda route: route.abort())

        def sign_in():
            page.goto(server.url, wait_until="domcontentloaded")
            expect(page.get_by_label("Annotator token")).to_be_visible(timeout=30_000)
            page.get_by_label("Annotator token").fill(token)
            page.get_by_role("button", name="Sign in").click()

        sign_in()
        expect(page.get_by_text("Comment 1 of")).to_be_visible(timeout=20_000)
        video_src = page.locator("video").get_attribute("src")
        assert re.fullmatch(r"media/m_[0-9a-f]{24}", video_src)
        assert page.evaluate("src => fetch(src).then(r => r.status)", video_src) == 200
        page.screenshot(path=str(SCREENSHOTS / "01_signed_in.png"), full_page=True)
        for position in (1, 2, 3):
            shown.append(_judge(page, expect, position, n_items, *answers[position - 1]))
        expect(page.get_by_text("Comment 4 of")).to_be_visible(timeout=20_000)

        page.reload(wait_until="domcontentloaded")  # the page's state is gone; the server's is not
        sign_in()
        expect(page.get_by_text(f"Comment 4 of {n_items}")).to_be_visible(timeout=20_000)
        page.screenshot(path=str(SCREENSHOTS / "02_resumed_after_reload.png"), full_page=True)
        for position in range(4, n_items + 1):
            shown.append(_judge(page, expect, position, n_items, *answers[position - 1]))
        expect(page.get_by_text(DONE_MESSAGE)).to_be_visible(timeout=20_000)
        page.screenshot(path=str(SCREENSHOTS / "03_finished.png"), full_page=True)
        browser.close()

    stored = sorted(store.judgments(), key=lambda j: j["position"])
    assert [(j["annotator_id"], j["judged_human"], j["realism"], j["position"]) for j in stored] == [
        (annotator, verdict == "Human", realism, i) for i, (verdict, realism) in enumerate(answers, start=1)]
    assert [texts[j["item_id"]] for j in stored] == shown  # each answer went to the comment on screen
    assert len({j["session_id"] for j in stored}) == 2  # two browser sessions, one annotator
    for name in ("01_signed_in.png", "02_resumed_after_reload.png", "03_finished.png"):
        assert (SCREENSHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
