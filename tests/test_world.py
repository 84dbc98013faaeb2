import hashlib

import numpy as np

from mimic_data.render import render_frames
from mimic_data.schema import table_to_records, validate_batch
from mimic_data.synth import synthesize
from mimic_data.world import CATEGORIES, COLOURS, MOTIONS, WorldConfig, generate_world


def test_same_seed_gives_byte_identical_parquet(tmp_path):
    digests = []
    for name in ("a", "b"):
        synthesize(tmp_path / name, n=400, seed=7)
        digests.append([hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest()
                        for f in ("records.parquet", "world.parquet")])
    assert digests[0] == digests[1]
    synthesize(tmp_path / "c", n=400, seed=8)
    assert hashlib.sha256((tmp_path / "c" / "records.parquet").read_bytes()).hexdigest() != digests[0][0]


def test_records_are_schema_valid_and_content_drives_metadata(tmp_path):
    records, world = generate_world(WorldConfig(n=600, seed=1))
    good, errors = validate_batch(r.to_row() for r in table_to_records(records))
    assert not errors and len(good) == 600
    spec = {row["video_id"]: row for row in world.to_pylist()}
    scene_matches = 0
    for rec in good:
        s = spec[rec.video_id]
        text = f"{rec.title} {rec.description}".lower()
        assert s["colour"] in text and s["shape"] in text  # the object is always named
        assert f"{s['colour']}{s['shape']}" in rec.topics and f"#{s['colour']}{s['shape']}" in rec.description
        scene_matches += rec.category == s["scene"]
        if rec.platform == "tiktok":
            assert rec.tags == [] and rec.height > rec.width
        else:
            assert f"{s['colour']} {s['shape']}" in rec.tags and rec.width > rec.height
        # comments are sorted by likes and carry no author data
        likes = [c.like_count for c in rec.comments]
        assert likes == sorted(likes, reverse=True)
    assert 0.8 < scene_matches / len(good) < 0.97  # category follows the scene, with creator noise


def test_counts_are_heavy_tailed():
    records, _ = generate_world(WorldConfig(n=3000, seed=2))
    views = np.array(records["view_count"].to_pylist(), dtype=float)
    assert np.percentile(views, 99) / np.median(views) > 20


def test_most_liked_comments_talk_about_the_highlighted_motion_but_wording_does_not_tell():
    records, world = generate_world(WorldConfig(n=1500, seed=3))
    spec = {row["video_id"]: row for row in world.to_pylist()}

    top = bottom = first_motion_top = n = 0
    for rec in records.to_pylist():
        if len(rec["comments"]) < 20:
            continue
        s = spec[rec["video_id"]]
        highlighted = MOTIONS[s["motion1"] if s["highlight"] == 1 else s["motion2"]][1]
        top += highlighted in rec["comments"][0]["text"]
        bottom += highlighted in rec["comments"][-1]["text"]
        first_motion_top += MOTIONS[s["motion1"]][1] in rec["comments"][0]["text"]
        n += 1
    assert n > 50 and top == n and 0.35 < bottom / n < 0.65  # the top one always; the rest at random
    assert 0.35 < first_motion_top / n < 0.65  # the highlight is motion 1 or 2 at random: text order does not tell


def test_rendered_frames_show_scene_and_motion():
    _, world = generate_world(WorldConfig(n=50, seed=4))
    spec = next(r for r in world.to_pylist() if r["motion1"] == "right" and r["platform"] == "youtube")
    frames = render_frames(spec)
    assert frames.shape == (round(spec["duration_s"] * spec["fps"]), spec["height"], spec["width"], 3)
    colour = np.array(COLOURS[spec["colour"]], dtype=float)

    def centroid_x(frame):
        mask = np.abs(frame.astype(float) - colour).sum(-1) < 40
        return np.nonzero(mask)[1].mean()
    assert centroid_x(frames[len(frames) // 2 - 1]) > centroid_x(frames[0]) + 10  # slides right in the first half
    glow = [(np.abs(f.astype(float) - 255).sum(-1) < 30).sum() for f in (frames[1], frames[-2])]
    assert (glow[0] > glow[1]) == (spec["highlight"] == 1)  # the highlighted half glows
    bg = {c[0]: np.array(c[2]) for c in CATEGORIES}[spec["scene"]]
    corner = frames[0, :4, :4].reshape(-1, 3).mean(0)
    assert np.all(corner > 0.6 * bg - 12) and np.all(corner < 1.35 * bg + 12)  # background shade of the scene
