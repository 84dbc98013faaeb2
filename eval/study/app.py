"""The annotation server (loopback only): a Gradio UI for people and a small JSON API for scripted annotators.

It serves only what an annotator needs. Both front ends are thin over StudyStore, which holds no source labels at
all: nothing the server can send knows which comment is human. Videos are served by one app route from opaque media
tokens (keyed hashes) that map to the files the sheet names; Gradio gets no `allowed_paths`, and the bench, study and
database folders are blocked for its file route. Video ids never reach the browser (a real id would let an annotator
open the video's page and read its comments). Per-session data (annotator, current item) lives in `gr.State` / a
server dict, never in components, because hidden components are sent to the browser. Answers are strict: exact JSON
types, realism an integer 0-5, unknown fields refused (422). No feedback is given during the study.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from .store import StudyError, StudyStore

HOST = "127.0.0.1"  # the study app never listens beyond loopback; put a reverse proxy in front for remote annotators
INSTRUCTIONS = """### Is this comment from a real viewer or from an AI?
Watch the video, then judge each comment shown below it, one at a time: was it written by a **Human** or by an
**AI**, and how realistic is it as a viewer comment (**0** = clearly artificial … **5** = fully realistic)?
Some lines ask you to give a specific answer: please follow them. Please do not search for the comments online.
Answers are not revealed during the study. You can close the page and sign in again later to continue."""
REALISM_CHOICES = ["0", "1", "2", "3", "4", "5"]
VERDICTS = {"Human": True, "AI": False}
DONE_MESSAGE = "Nothing left to judge: thank you!"
# Gradio routes an annotator's browser never needs: file access, URL proxying, uploads, run history, the programmatic
# API (the study's events are private), API schemas, monitoring and dev tools. The app answers 404 to all of them.
GRADIO_ROUTES_NOT_SERVED = (
    "/gradio_api/file", "/gradio_api/proxy=", "/gradio_api/upload", "/gradio_api/run-history", "/gradio_api/runs",
    "/gradio_api/api/", "/gradio_api/run/", "/gradio_api/call/", "/gradio_api/stream/", "/gradio_api/openapi.json",
    "/gradio_api/info", "/gradio_api/custom_component/", "/gradio_api/process_recording", "/gradio_api/vibe",
    "/gradio_api/undo-vibe", "/gradio_api/dev/", "/gradio_api/token", "/gradio_api/user", "/openapi.json",
    "/monitoring", "/login", "/logout",
)


def media_token(secret: bytes, video_id: str) -> str:
    """The opaque name a video is served under; unguessable without the study secret."""
    return "m_" + hmac.new(secret, f"media|{video_id}".encode(), hashlib.sha256).hexdigest()[:24]


def media_files(store: StudyStore) -> dict[str, Path]:
    """media token -> video file, for the videos of the study whose file (named by the sheet) exists."""
    bench = Path(store.design["bench_dir"]).resolve()
    files = {}
    for video_id, file_name in store.design["video_files"].items():
        path = (bench / file_name).resolve() if file_name else None
        if path is not None and bench in path.parents and path.is_file():
            files[media_token(store.secret, video_id)] = path
    return files


def video_html(token: str) -> str:
    """A plain <video> pointing at the app's media route (relative, so it works behind a path-prefix proxy)."""
    return (f'<video src="media/{html.escape(token)}" controls autoplay loop muted playsinline '
            'style="max-width:100%;max-height:360px"></video>')


class StrictBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class SignIn(StrictBody):
    token: str


class Session(StrictBody):
    session: str


class Judgment(StrictBody):
    session: str
    item_id: str
    judged_human: bool
    realism: Annotated[int, Field(ge=0, le=5)]


def build_ui(store: StudyStore) -> gr.Blocks:
    def show(state: dict, item: dict | None, message: str):
        if item is None:
            state.update(item_id=None, media=None)
            return state, f"{message} {DONE_MESSAGE}", "", "", None, None
        token = media_token(store.secret, item["video_id"])
        video = gr.skip() if state.get("media") == token else video_html(token)
        state.update(item_id=item["item_id"], media=token)
        progress = f"{message} Comment {item['position']} of {item['n_in_video']} for this video."
        return state, progress, video, item["text"], None, None

    def sign_in(token: str, request: gr.Request):
        try:
            annotator_id = store.sign_in(token or "")
        except StudyError:
            return None, "Unknown token.", gr.skip(), "", None, None
        state = {"annotator_id": annotator_id, "session_id": request.session_hash, "media": None}
        return show(state, store.next_item(annotator_id), "Signed in.")

    def submit(state: dict | None, verdict: str | None, realism: str | None, request: gr.Request):
        # The state is bound to the browser session that signed in with the token.
        if not state or state.get("session_id") != request.session_hash:
            return None, "Please sign in first.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if not state.get("item_id"):
            return state, DONE_MESSAGE, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if verdict not in VERDICTS or realism not in REALISM_CHOICES:
            return state, "Please answer both questions.", gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            store.submit(state["annotator_id"], state["item_id"], VERDICTS[verdict], int(realism),
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
        video = gr.HTML(label="Video")
        comment = gr.Textbox(label="Comment", interactive=False, lines=2)
        verdict = gr.Radio(list(VERDICTS), label="Written by a human or by an AI?")
        realism = gr.Radio(REALISM_CHOICES, label="Realism (0 = clearly artificial, 5 = fully realistic)")
        submit_button = gr.Button("Submit judgment", variant="primary")
        outputs = [state, status, video, comment, verdict, realism]
        sign_in_button.click(sign_in, [token], outputs, api_visibility="private")
        submit_button.click(submit, [state, verdict, realism], outputs, api_visibility="private")
    return blocks


def create_app(store: StudyStore) -> FastAPI:
    """FastAPI app: JSON API under /api, videos under /media/<token>, the Gradio UI at /."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    sessions: dict[str, str] = {}  # API session token -> annotator_id (server memory only)
    media = media_files(store)

    def annotator(session: str) -> str:
        if session not in sessions:
            raise HTTPException(401, "unknown session: sign in again")
        return sessions[session]

    def public_item(item: dict | None) -> dict:
        if item is None:
            return {"done": True}
        token = media_token(store.secret, item["video_id"])
        return {"done": False, "item_id": item["item_id"], "text": item["text"], "position": item["position"],
                "n_in_video": item["n_in_video"], "video_url": f"/media/{token}" if token in media else None}

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
                                  session_id=hashlib.sha256(body.session.encode()).hexdigest()[:16])
        except StudyError as err:
            raise HTTPException(409, str(err)) from None
        return {"status": status}

    @app.middleware("http")
    async def refuse_unneeded_routes(request: Request, call_next):
        if request.url.path.startswith(GRADIO_ROUTES_NOT_SERVED):
            return PlainTextResponse("Not Found", status_code=404)
        return await call_next(request)

    @app.get("/media/{token}")
    def video(token: str):
        if token not in media:
            raise HTTPException(404, "no such video")
        return FileResponse(media[token], media_type="video/mp4")

    database = store.db_path.resolve()
    private = [str(Path(store.design["bench_dir"]).resolve()), str(store.study_dir.resolve()),
               *(f"{database}{suffix}" for suffix in ("", "-wal", "-shm"))]
    return gr.mount_gradio_app(app, build_ui(store), path="/", server_name=HOST, blocked_paths=private,
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
          lease_seconds: float | None = None, public_dirs: tuple[str, ...] = ()) -> None:
    import uvicorn

    kwargs = {"lease_seconds": lease_seconds} if lease_seconds else {}
    store = StudyStore(db_path, study_dir, k=k, public_dirs=public_dirs, **kwargs)
    print(f"study {store.design['study_id']}: serving on http://{HOST}:{port} (database {db_path})")
    uvicorn.run(create_app(store), host=HOST, port=port, log_level="warning")
