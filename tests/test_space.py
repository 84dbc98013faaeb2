"""The Space's logic without a browser: upload checks, the game's secrecy and scoring, and seeded generation with a
TINY RANDOM MIMIC-Chat (random weights: only determinism and counts are meaningful)."""

from pathlib import Path

import pytest
from release_fixtures import make_space_inputs

from mimic_space import comment_engine as engine_module
from mimic_space import human_or_ai as game


@pytest.fixture(scope="module")
def space_inputs(tmp_path_factory):
    return make_space_inputs(tmp_path_factory.mktemp("space"))


def test_check_video_accepts_a_video_and_refuses_bad_uploads_with_friendly_messages(space_inputs, tmp_path):
    _, data_dir = space_inputs
    video = data_dir / "examples" / "ex0.mp4"
    check = engine_module.check_video(video)
    assert (check.width, check.height) == (64, 48) and check.duration_s == pytest.approx(3.0, abs=0.2)

    (tmp_path / "notes.mp4").write_text("not a video at all")
    (tmp_path / "cut.mp4").write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    cases = {
        tmp_path / "notes.mp4": "not a readable video",
        tmp_path / "cut.mp4": "not a readable video",
        tmp_path / "gone.mp4": "could not be found",
        None: "Please upload a video",
    }
    for path, message in cases.items():
        with pytest.raises(engine_module.UserFacingError, match=message):
            engine_module.check_video(path)
    with pytest.raises(engine_module.UserFacingError, match="up to 0 MB"):
        engine_module.check_video(video, max_mb=0.001)
    with pytest.raises(engine_module.UserFacingError, match="3 s long; the Space accepts videos up to 2 s"):
        engine_module.check_video(video, max_duration_s=2)


def test_engine_without_a_model_explains_instead_of_crashing(tmp_path):
    with pytest.raises(engine_module.UserFacingError, match="MIMIC_CHAT_MODEL"):
        engine_module.CommentEngine(None).load()
    engine = engine_module.CommentEngine(str(tmp_path / "no-such-model"))
    with pytest.raises(engine_module.UserFacingError, match="could not be loaded"):
        engine.load()
    with pytest.raises(engine_module.UserFacingError, match="could not be loaded"):  # remembered, not retried
        engine.load()


def test_same_seed_same_comments_and_n_comments(space_inputs):
    model_dir, data_dir = space_inputs
    data = game.load_space_data(data_dir)
    engine = engine_module.CommentEngine(str(model_dir), threads=1)
    frames = engine.sample(data.examples()[0])
    assert frames.spatial.shape[0] == 8
    first = engine.generate(frames, data.prompts["youtube"], 3, 0.9, 0.95, seed=7)
    again = engine.generate(frames, data.prompts["youtube"], 3, 0.9, 0.95, seed=7)
    other = engine.generate(frames, data.prompts["youtube"], 3, 0.9, 0.95, seed=8)
    assert len(first) == 3 and all(first)
    assert first == again and first != other


def test_a_dealt_round_hides_sources_until_the_reveal_scores_the_guess(space_inputs):
    _, data_dir = space_inputs
    data = game.load_space_data(data_dir)
    public, secret = game.deal(data, seed=3)
    assert set(public) == {"video", "texts"}  # what the page receives: no sources
    truth = {c["text"]: c["source"] for c in data.rounds[0]["comments"]}
    assert [truth[t] for t in public["texts"]] == secret["sources"]
    ai_positions = [i for i, s in enumerate(secret["sources"], start=1) if s == game.MODEL]
    table, correct = game.reveal(secret, public["texts"], ai_positions)
    assert correct == 3 and "You got 3 of 3 right" in table
    _, wrong = game.reveal(secret, public["texts"], [i for i in (1, 2, 3) if i not in ai_positions])
    assert wrong == 0
    assert game.load_space_data(data_dir / "missing") is None


def _rotated_clip(path, frames: int):
    """A landscape-stored 64x48 H.264 clip whose display matrix says 90° (a phone held upright)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)
        for k in range(frames):
            array = np.full((48, 64, 3), 10 * k, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_a_rotated_phone_video_is_portrait_and_a_short_clip_is_said_so(space_inputs, tmp_path, monkeypatch):
    model_dir, _ = space_inputs
    monkeypatch.syspath_prepend(str(Path(engine_module.__file__).parent))  # app.py imports its siblings as the Space does
    import app

    clip = _rotated_clip(tmp_path / "phone.mp4", frames=24)
    check = engine_module.check_video(clip)
    assert (check.width, check.height, check.rotation) == (48, 64, 90)
    assert app._platform_for(check) == "tiktok"  # vertical as displayed, though stored landscape
    engine = engine_module.CommentEngine(str(model_dir), threads=1)
    frames = engine.sample(clip)
    assert tuple(frames.spatial.shape[1:]) == (64, 48, 3) and frames.rotation == 90
    assert app._frames_status(check, frames) == "3.0 s video, rotated 90°, 8 spatial + 16 temporal frames"
    short = _rotated_clip(tmp_path / "short.mp4", frames=3)
    status = app._frames_status(engine_module.check_video(short), engine.sample(short))
    assert "a short clip: only 3 distinct frames for 8 spatial + 16 temporal" in status
