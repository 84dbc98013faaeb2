"""Headless Chromium against the Space (space/app.py in its own process, on loopback) with a TINY RANDOM MIMIC-Chat.

Uploads a synthetic video and receives N comments with the frame strip, plays one round of "Human or AI?" (sources only
after the reveal), and checks that a corrupt upload gets the friendly message. Screenshots go to runs/test-ui/.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_helpers import free_port, launch_chromium, needs_chromium, wait_for_http
from release_fixtures import make_space_inputs

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "runs" / "test-ui"


@pytest.fixture
def space_server(tmp_path):
    model_dir, data_dir = make_space_inputs(tmp_path)
    port = free_port()
    env = {**os.environ, "MIMIC_CHAT_MODEL": str(model_dir), "MIMIC_SPACE_DATA": str(data_dir),
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "MIMIC_SPACE_TORCH_THREADS": "1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([sys.executable, str(REPO / "space" / "app.py")], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url, process)
        yield url, data_dir
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.browser
@needs_chromium
def test_upload_comments_human_or_ai_round_and_corrupt_upload(space_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, data_dir = space_server
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url, wait_until="domcontentloaded")  # external fonts never load offline
        expect(page.locator("#model-status")).to_contain_text("Model:", timeout=60_000)

        page.locator("#video-in input[type=file]").set_input_files(str(data_dir / "examples" / "ex0.mp4"))
        page.locator("#n-comments input[type=number]").fill("4")
        page.locator("#n-comments input[type=number]").press("Enter")
        page.locator("#generate").click()
        expect(page.locator("#comments li")).to_have_count(4, timeout=90_000)
        expect(page.locator("#status")).to_contain_text("Seed 0")
        expect(page.locator("#frames img")).to_have_count(8)
        page.screenshot(path=str(SCREENSHOTS / "space_trying_comments.png"), full_page=True)

        page.get_by_role("button", name="Clear").first.click()
        page.locator("#video-in input[type=file]").set_input_files(str(corrupt))
        page.locator("#generate").click()
        expect(page.locator("#status")).to_contain_text("not a readable video", timeout=60_000)
        expect(page.locator("#comments li")).to_have_count(0)

        page.get_by_role("tab", name="Human or AI?").click()
        page.locator("#new-round").click()
        expect(page.locator("#round-comments li")).to_have_count(3, timeout=30_000)
        assert "MIMIC-Chat" not in page.locator("#round-comments").inner_text()  # sources not sent before the guess
        page.locator("#guess").get_by_label("2", exact=True).check()
        page.locator("#reveal").click()
        expect(page.locator("#reveal-result")).to_contain_text("of 3 right", timeout=30_000)
        expect(page.locator("#reveal-result")).to_contain_text("AI (MIMIC-Chat)")
        page.screenshot(path=str(SCREENSHOTS / "space_human_or_ai.png"), full_page=True)
        browser.close()
