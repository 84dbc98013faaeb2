"""The annotation server (loopback only): a Gradio UI for people and a small JSON API for scripted annotators.

Both are thin front ends over StudyStore, which holds no source labels at all: nothing the server can send knows
which comment is human. Per-session data (annotator, current item) lives in `gr.State` / a server dict, never in
components, because hidden components are sent to the browser. No feedback is given during the study.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel

from .store import StudyError, StudyStore

HOST = "127.0.0.1"  # the study app never listens beyond loopback; put a reverse proxy in front for remote annotators
INSTRUCTIONS = """### Is this comment from a real viewer or from an AI?
Watch the video, then judge each comment shown below it, one at a time: was it written by a **Human** or by an
**AI**, and how realistic is it as a viewer comment (**0** = clearly artificial … **5** = fully realistic)?
Some lines ask you to give a specific answer: please follow them. Answers are not revealed during the study."""
REALISM_CHOICES = ["0", "1", "2", "3", "4", "5"]


def _video_path(store: StudyStore, video_id: str) -> Path | None:
    file_name = store.design["video_files"].get(video_id)
    if not file_name:
        return None
    path = Path(store.design["bench_dir"]) / file_name
    return path if path.exists() else None


class SignIn(BaseModel):
    token: str


class Session(BaseModel):
    session: str


class Judgment(BaseModel):
    session: str
    item_id: str
    judged_human: bool
    realism: int


def build_ui(store: StudyStore) -> gr.Blocks:
    def show(state: dict, item: dict | None, message: str):
        if item is None:
            state["item_id"] = None
            return state, message + " Nothing left to judge: thank you!", gr.skip(), "", None, None
        same_video = state.get("video_id") == item["video_id"]
        state.update(item_id=item["item_id"], video_id=item["video_id"])
        video = gr.skip() if same_video else _video_path(store, item["video_id"])
        progress = f"{message} Comment {item['position']} of {item['n_in_video']} for this video."
        return state, progress, video, item["text"], None, None

    def sign_in(token: str, request: gr.Request):
        try:
            annotator_id = store.sign_in(token or "")
        except StudyError:
            return None, "Unknown token.", gr.skip(), "", None, None
        state = {"annotator_id": annotator_id, "session_id": request.session_hash, "video_id": None}
        return show(state, store.next_item(annotator_id), "Signed in.")

    def submit(state: dict | None, verdict: str | None, realism: str | None):
        if not state or not state.get("item_id"):
            return state, "Please sign in first.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if verdict not in ("Human", "AI") or realism not in REALISM_CHOICES:
            return state, "Please answer both questions.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            store.submit(state["annotator_id"], state["item_id"], verdict == "Human", int(realism),
                         session_id=state["session_id"])
            message = "Saved."
        except StudyError:
            message = "That comment could not be saved (your time on this video ran out); here is the next one."
        return show(state, store.next_item(state["annotator_id"]), message)

    with gr.Blocks(title="Comment study", analytics_enabled=False) as blocks:
        state = gr.State(None)
        gr.Markdown(INSTRUCTIONS)
        with gr.Row():
            token = gr.Textbox(label="Annotator token", type="password", scale=3)
            sign_in_button = gr.Button("Sign in", scale=1)
        status = gr.Markdown()
        video = gr.Video(label="Video", interactive=False, autoplay=True, loop=True)
        comment = gr.Textbox(label="Comment", interactive=False, lines=2)
        verdict = gr.Radio(["Human", "AI"], label="Written by a human or by an AI?")
        realism = gr.Radio(REALISM_CHOICES, label="Realism (0 = clearly artificial, 5 = fully realistic)")
        submit_button = gr.Button("Submit judgment", variant="primary")
        outputs = [state, status, video, comment, verdict, realism]
        sign_in_button.click(sign_in, [token], outputs, api_visibility="private")
        submit_button.click(submit, [state, verdict, realism], outputs, api_visibility="private")
    return blocks


def create_app(store: StudyStore) -> FastAPI:
    """FastAPI app: JSON API under /api, videos under /video/<video_id>, the Gradio UI at /."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sessions: dict[str, str] = {}  # API session token -> annotator_id (server memory only)

    def annotator(session: str) -> str:
        if session not in sessions:
            raise HTTPException(401, "unknown session: sign in again")
        return sessions[session]

    def public_item(item: dict | None) -> dict:
        if item is None:
            return {"done": True}
        return {"done": False, "item_id": item["item_id"], "video_id": item["video_id"], "text": item["text"],
                "position": item["position"], "n_in_video": item["n_in_video"], "video_url": f"/video/{item['video_id']}"}

    @app.post("/api/signin")
    def api_sign_in(body: SignIn) -> dict:
        try:
            annotator_id = store.sign_in(body.token)
        except StudyError as err:
            raise HTTPException(401, str(err)) from None
        session = secrets.token_urlsafe(16)
        sessions[session] = annotator_id
        return {"session": session}

    @app.post("/api/next")
    def api_next(body: Session) -> dict:
        return public_item(store.next_item(annotator(body.session)))

    @app.post("/api/judge")
    def api_judge(body: Judgment) -> dict:
        try:
            status = store.submit(annotator(body.session), body.item_id, body.judged_human, body.realism,
                                  session_id=body.session[:8])
        except StudyError as err:
            raise HTTPException(409, str(err)) from None
        return {"status": status}

    @app.get("/video/{video_id}")
    def video(video_id: str):
        path = _video_path(store, video_id)
        if path is None:
            raise HTTPException(404, f"no video file for {video_id!r}")
        return FileResponse(path, media_type="video/mp4")

    bench_dir = str(Path(store.design["bench_dir"]).resolve())
    return gr.mount_gradio_app(app, build_ui(store), path="/", server_name=HOST, allowed_paths=[bench_dir],
                               footer_links=[])


class BackgroundServer:
    """Run the app with uvicorn on 127.0.0.1 in a thread (tests, the load test); `url` is set once listening."""

    def __init__(self, app, port: int = 0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("study server did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(study_dir: str, db_path: str, port: int = 7860, k: int | None = None,
          lease_seconds: float | None = None) -> None:
    import uvicorn

    kwargs = {"lease_seconds": lease_seconds} if lease_seconds else {}
    store = StudyStore(db_path, study_dir, k=k, **kwargs)
    print(f"study {store.design['study_id']}: serving on http://{HOST}:{port} (database {db_path})")
    uvicorn.run(create_app(store), host=HOST, port=port, log_level="warning")
