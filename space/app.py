"""MIMIC-Chat Space: "Trying comments" (a video in, N user-like comments out) and the "Human or AI?" game.

Configuration (environment):
- MIMIC_CHAT_MODEL: a MIMIC-Chat folder or Hub id; default: the "model" entry of space_config.json beside this file.
- MIMIC_SPACE_DATA: the folder with rounds.json and the example videos; default: space_data/ beside this file.
- MIMIC_SPACE_TORCH_THREADS: torch CPU threads (default: torch's choice).
- GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: where to listen (default 127.0.0.1:7860; Spaces sets 0.0.0.0).
Runs on CPU. Visitors only ever see friendly messages; tracebacks go to the server log.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import gradio as gr
from comment_engine import (
    CONCURRENCY_LIMIT,
    MAX_DURATION_S,
    MAX_UPLOAD_MB,
    QUEUE_SIZE,
    CommentEngine,
    UserFacingError,
    check_video,
)
from human_or_ai import SpaceData, deal, load_space_data, reveal

APP_DIR = Path(__file__).resolve().parent
LOG = logging.getLogger("mimic_space")
GENERIC_ERROR = "Something went wrong while writing comments. Please try again or use another video."


def default_model_path() -> str | None:
    if os.environ.get("MIMIC_CHAT_MODEL"):
        return os.environ["MIMIC_CHAT_MODEL"]
    config = APP_DIR / "space_config.json"
    return json.loads(config.read_text()).get("model") if config.is_file() else None


def _comments_markdown(comments: list[str]) -> str:
    return "\n".join(f"{i}. {text or '(empty)'}" for i, text in enumerate(comments, start=1))


def _platform_for(check) -> str:
    """The synthetic platforms: vertical vs landscape, as the video is displayed (rotation applied)."""
    return "tiktok" if check.height > check.width else "youtube"


def _frames_status(check, frames) -> str:
    """What the model saw, in words: frame counts, and how many differ when a short clip repeats frames."""
    counts = f"{len(frames.spatial)} spatial + {len(frames.temporal)} temporal frames"
    shortfall = frames.shortfall()
    if shortfall:
        counts += f" (a short clip: {shortfall})"
    rotated = f", rotated {check.rotation}°" if check.rotation else ""
    return f"{check.duration_s:.1f} s video{rotated}, {counts}"


def build_demo(engine: CommentEngine, data: SpaceData | None) -> gr.Blocks:
    def write_comments(video, n, temperature, top_p, seed):
        try:
            if data is None:
                raise UserFacingError("This Space has no data folder (rounds.json), so it has no comment prompt.")
            check = check_video(video)
            frames = engine.sample(video)
            platform = _platform_for(check)
            comments = engine.generate(frames, data.prompts[platform], int(n), temperature, top_p, int(seed))
        except UserFacingError as err:
            return f"⚠️ {err}", [], ""
        except Exception:
            LOG.exception("comment generation failed for %s", video)
            return f"⚠️ {GENERIC_ERROR}", [], ""
        strip = [(frame.numpy(), f"t = {t:.1f} s") for frame, t in zip(frames.spatial, frames.spatial_times, strict=True)]
        status = (f"Seed **{int(seed)}** · {len(comments)} comments as a {platform} viewer · temperature "
                  f"{temperature:g}, top-p {top_p:g} · {_frames_status(check, frames)}")
        return status, strip, _comments_markdown(comments)

    def new_round(session: dict | None):
        session = session or {"seed": secrets.randbelow(2**31), "round": 0}
        session["round"] += 1
        public, secret = deal(data, session["seed"] + session["round"])
        session.update(secret=secret, texts=public["texts"], revealed=False)
        choices = [str(i) for i in range(1, len(public["texts"]) + 1)]
        return (session, public["video"], _comments_markdown(public["texts"]),
                gr.CheckboxGroup(choices=choices, value=[], interactive=True), "")

    def show_truth(session: dict | None, guessed: list[str]):
        if not session or "secret" not in session:
            return session, "Start a round first."
        table, _ = reveal(session["secret"], session["texts"], [int(g) for g in guessed or []])
        session["revealed"] = True
        return session, table

    with gr.Blocks(title="MIMIC-Chat: trying comments", analytics_enabled=False) as demo:
        gr.Markdown("# MIMIC-Chat — comments like real viewers\nUpload a short video (or pick an example) and "
                    "MIMIC-Chat writes comments the way platform users do.")
        try:
            engine.load()
            gr.Markdown(f"Model: `{engine.model_path}`", elem_id="model-status")
        except UserFacingError as err:
            gr.Markdown(f"⚠️ {err}", elem_id="model-status")
        with gr.Tab("Trying comments"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(label=f"Video (up to {MAX_UPLOAD_MB} MB, {MAX_DURATION_S:.0f} s)",
                                     sources=["upload"], elem_id="video-in")
                    if data is not None:
                        gr.Examples(examples=data.examples(), inputs=[video], label="Synthetic examples")
                with gr.Column():
                    n = gr.Slider(1, 8, value=3, step=1, label="Number of comments (N)", elem_id="n-comments")
                    temperature = gr.Slider(0.1, 1.5, value=0.9, step=0.05, label="Temperature")
                    top_p = gr.Slider(0.1, 1.0, value=0.95, step=0.05, label="Top-p")
                    seed = gr.Number(value=0, precision=0, label="Seed (same seed + settings = same comments)")
                    button = gr.Button("Write comments", variant="primary", elem_id="generate")
            status = gr.Markdown(elem_id="status")
            strip = gr.Gallery(label="What the model saw: the spatial frames", columns=8, height="auto",
                               elem_id="frames")
            comments = gr.Markdown(elem_id="comments")
            button.click(write_comments, [video, n, temperature, top_p, seed], [status, strip, comments],
                         concurrency_limit=CONCURRENCY_LIMIT, api_visibility="private")
        with gr.Tab("Human or AI?"):
            if data is None:
                gr.Markdown("No rounds are bundled with this Space.")
            else:
                gr.Markdown("Real top-liked comments and MIMIC-Chat comments on one video, shuffled. "
                            "Tick the ones you think the AI wrote, then reveal.")
                session = gr.State(None)  # the sources live here, server-side, until the reveal
                start = gr.Button("New round", elem_id="new-round")
                round_video = gr.Video(label="Video", interactive=False, autoplay=True, loop=True)
                round_comments = gr.Markdown(elem_id="round-comments")
                guess = gr.CheckboxGroup(choices=[], label="Which comments did the AI write?", elem_id="guess")
                reveal_button = gr.Button("Reveal", variant="primary", elem_id="reveal")
                result = gr.Markdown(elem_id="reveal-result")
                start.click(new_round, [session], [session, round_video, round_comments, guess, result],
                            api_visibility="private")
                reveal_button.click(show_truth, [session, guess], [session, result], api_visibility="private")
    return demo


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    data_dir = Path(os.environ.get("MIMIC_SPACE_DATA", APP_DIR / "space_data"))
    threads = int(os.environ["MIMIC_SPACE_TORCH_THREADS"]) if os.environ.get("MIMIC_SPACE_TORCH_THREADS") else None
    demo = build_demo(CommentEngine(default_model_path(), threads=threads), load_space_data(data_dir))
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=f"{MAX_UPLOAD_MB}mb", allowed_paths=[str(data_dir)], footer_links=[])


if __name__ == "__main__":
    main()
