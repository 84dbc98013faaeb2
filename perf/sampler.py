"""Frame sampling speed and memory: the MIMIC sampler against the anchors' decoders on a UGC-like corpus.

Corpus: perf/corpus.py (vertical 1080x1920 x 30 s "tiktok", landscape 1280x720 x 60 s "yt"; H.264 with B-frames,
30 fps, 2 s GOP, noisy), generated once under .cache/bench-corpus. Task, the same for every method: the 8 spatial +
32 temporal frames (segment centres; the union of their indices) as uint8 RGB 224x224, NHWC; "_8" rows take the 8
spatial frames only. Each method resizes inside its own decoder (the sampler and PyAV: swscale AREA; torchcodec: its
Resize transform; decord: its scaler); the "frames out" column shows what each returned.
Each method runs in its own process, warmed up (one call) before any timing. Methods that compete are measured
interleaved: a group's processes are all started, then each round times one call of each in turn, so a load change
on this shared machine hits them alike; ms = the best round's wall time per video (the median is kept too), CPU ms
= the best round's CPU time, peak MB = the process's peak RSS (torch imports count: they are part of each path's
real cost). Throughput = videos/s with two single-threaded processes of a method started together (both warm,
both cores busy), methods interleaved round by round, the best round kept. Correctness: the sampler's frames are
compared with PyAV decode-everything (must be identical) and with torchcodec exact seeking (mean absolute difference).

    .venv/bin/python perf/sampler.py --out runs/bench [--repeats 3] [--kinds tiktok yt]

decord is measured when it imports here or in `.cache/decord-venv`; when it does not, the bench makes that venv
itself (`python -m venv` + `pip install decord numpy`, from PyPI) so a fresh clone compares against every anchor;
`--no-install-anchors` skips that. decord 0.6.0 wheels are from 2021 and it is not a project dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SIZE = (224, 224)
DECORD_PYTHON = Path(".cache/decord-venv/bin/python")
ROOT = Path(__file__).resolve().parent.parent


def _targets(n: int) -> tuple[list[int], list[int]]:
    from modeling_mimic_chat.frames_mimic_chat import segment_centres

    return segment_centres(n, 8), segment_centres(n, 32)


def _pyav_full_then_pick(clip: str, threads: int, eight_only: bool):
    """The lmms-eval PyAV path: decode every frame, keep the sampled ones (converted; the rest are dropped)."""
    import av

    from modeling_mimic_chat.frames_mimic_chat import INTERPOLATION

    with av.open(clip) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = "AUTO", threads
        spatial, temporal = _targets(stream.frames)
        wanted = set(spatial) if eight_only else set(spatial) | set(temporal)
        # same conversion as the sampler, so the frames are comparable and only the decoding strategy differs
        return [frame.to_ndarray(format="rgb24", width=SIZE[1], height=SIZE[0], interpolation=INTERPOLATION)
                for i, frame in enumerate(container.decode(stream)) if i in wanted]


def _torchcodec(clip: str, threads: int, seek_mode: str, eight_only: bool):
    from torchcodec.decoders import VideoDecoder
    from torchcodec.transforms import Resize

    decoder = VideoDecoder(clip, seek_mode=seek_mode, num_ffmpeg_threads=threads, dimension_order="NHWC",
                           transforms=[Resize(size=SIZE)])
    spatial, temporal = _targets(decoder.metadata.num_frames)
    return decoder.get_frames_at(sorted(set(spatial) if eight_only else set(spatial) | set(temporal))).data


def _decord(clip: str, threads: int, eight_only: bool):
    """decord's VideoReader resizing in its decoder, one batch of the same indices (runs in the decord venv)."""
    import decord

    reader = decord.VideoReader(clip, num_threads=threads, width=SIZE[1], height=SIZE[0])
    spatial, temporal = _targets(len(reader))
    return reader.get_batch(sorted(set(spatial) if eight_only else set(spatial) | set(temporal))).asnumpy()


def _ffmpeg(clip: str, threads: int, keyframes_only: bool):
    skip = ["-skip_frame", "nokey"] if keyframes_only else []
    subprocess.run(["ffmpeg", "-v", "error", "-threads", str(threads), *skip, "-i", clip, "-f", "null", "-"],
                   check=True)


def _method(name: str, threads: int):
    def mimic(**options):
        from modeling_mimic_chat.frames_mimic_chat import sample_frames

        return lambda c: sample_frames(c, size=SIZE, threads=threads, **options)

    table = {
        "mimic_exact": mimic(),
        "mimic_exact_8": mimic(temporal=0),
        "mimic_fast": mimic(mode="fast"),
        "mimic_fast_8": mimic(temporal=0, mode="fast"),
        "pyav_full_then_pick": lambda c: _pyav_full_then_pick(c, threads, False),
        "tc_exact": lambda c: _torchcodec(c, threads, "exact", False),
        "tc_approx": lambda c: _torchcodec(c, threads, "approximate", False),
        "tc_exact_8": lambda c: _torchcodec(c, threads, "exact", True),
        "tc_approx_8": lambda c: _torchcodec(c, threads, "approximate", True),
        "decord": lambda c: _decord(c, threads, False),
        "decord_8": lambda c: _decord(c, threads, True),
        "ffmpeg_keyframes_only": lambda c: _ffmpeg(c, threads, True),
        "ffmpeg_full_decode": lambda c: _ffmpeg(c, threads, False),
    }
    return table[name]


def _frames_out(output) -> str:
    """What a method returned, as frames x height x width x channels (the sampler: spatial + temporal rows)."""
    if output is None:
        return "-"
    arrays = [output.spatial, output.temporal] if hasattr(output, "spatial") else [output]
    count = sum(len(a) for a in arrays)
    shape = next((tuple(a[0].shape) for a in arrays if len(a)), ())
    return "x".join(map(str, (count, *shape)))


def _cpu_seconds() -> float:
    """CPU time (all threads, and child processes such as the ffmpeg CLI): the work done, robust to a busy machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM), and that of child processes (the ffmpeg CLI). ru_maxrss alone would
    carry the parent's peak across fork+exec on Linux."""
    with open("/proc/self/status") as f:
        own = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def serve(name: str, clip: str, threads: int) -> None:
    """The worker process: one warm-up call (its line, what it returned, says "ready"), then per stdin line N, N timed
    calls; "exit" reports the memory."""
    run = _method(name, threads)
    if name.startswith(("mimic", "tc_")):
        import torch  # noqa: F401  (imported by these paths anyway; measured separately as the import baseline)
    imports_mb = _current_rss_mb()
    print(json.dumps({"frames_out": _frames_out(run(clip))}), flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            break
        times, cpu = [], []
        for _ in range(int(line)):
            start, start_cpu = time.perf_counter(), _cpu_seconds()
            run(clip)
            times.append(time.perf_counter() - start)
            cpu.append(_cpu_seconds() - start_cpu)
        print(json.dumps({"seconds": times, "cpu_seconds": cpu}), flush=True)
    print(json.dumps({"peak_rss_mb": _peak_rss_mb(), "imports_rss_mb": imports_mb}), flush=True)


def _decord_python() -> str | None:
    for python in (sys.executable, str(DECORD_PYTHON)):
        if Path(python).exists() and subprocess.run([python, "-c", "import decord"], capture_output=True).returncode == 0:
            return python
    return None


def _install_decord() -> str | None:
    """decord in its own venv (it does not sit beside torchcodec's stack cleanly); None, with the reason on stderr, when
    PyPI is unreachable or no wheel fits this platform."""
    venv = DECORD_PYTHON.parent.parent
    steps = [[sys.executable, "-m", "venv", str(venv)], [str(DECORD_PYTHON), "-m", "pip", "install", "-q", "decord",
                                                          "numpy"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode:
            print(f"decord unavailable: {' '.join(step[-3:])} failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
            return None
    return _decord_python()


class Worker:
    """One method in its own process (`serve`), warm once constructed; the parent decides when each call is timed."""

    def __init__(self, name: str, clip: Path, threads: int):
        python, env = sys.executable, None
        if name.startswith("decord"):  # the decord venv runs this same file; the sampler's package from the checkout
            python = _decord_python()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.name, self.threads = name, threads
        self.process = subprocess.Popen([python, __file__, "--worker", name, "--clip", str(clip), "--threads",
                                         str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.frames_out = self._reply()["frames_out"]

    def _reply(self) -> dict:
        for line in self.process.stdout:  # a library may print; the protocol's lines are JSON objects
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"worker {self.name} (threads {self.threads}) failed: exit {self.process.wait()}")

    def start(self, calls: int = 1) -> None:
        self.process.stdin.write(f"{calls}\n")
        self.process.stdin.flush()

    def timed(self) -> dict:
        return self._reply()

    def close(self) -> dict:
        self.process.stdin.write("exit\n")
        self.process.stdin.flush()
        memory = self._reply()
        self.process.wait()
        return memory


def latency(group: list[tuple[str, int]], clip: Path, rounds: int) -> list[dict]:
    """The group's methods interleaved: every round times one call of each, in turn."""
    workers = [Worker(name, clip, threads) for name, threads in group]
    times: list[list[tuple[float, float]]] = [[] for _ in workers]
    for _ in range(rounds):
        for worker, record in zip(workers, times, strict=True):
            worker.start()
            result = worker.timed()
            record.append((result["seconds"][0], result["cpu_seconds"][0]))
    rows = []
    for worker, record in zip(workers, times, strict=True):
        memory = worker.close()
        seconds = [wall for wall, _ in record]
        # best of the rounds: this machine is shared, and the minimum is the round least disturbed by other jobs
        rows.append({"method": worker.name, "threads": worker.threads, "ms": round(1000 * min(seconds), 1),
                     "ms_median": round(1000 * statistics.median(seconds), 1),
                     "ms_all": [round(1000 * s, 1) for s in seconds],
                     "cpu_ms": round(1000 * min(cpu for _, cpu in record), 1),
                     "peak_rss_mb": round(memory["peak_rss_mb"], 1),
                     "imports_rss_mb": memory["imports_rss_mb"] and round(memory["imports_rss_mb"], 1),
                     "frames_out": worker.frames_out})
    return rows


def throughput(methods: list[str], clip: Path, per_process: int, rounds: int) -> dict:
    """Videos/s with two single-threaded processes of one method at once: both warm, started together; the methods
    take turns round by round, and each keeps its best round (all rounds are kept too)."""
    pairs = {name: [Worker(name, clip, 1), Worker(name, clip, 1)] for name in methods}
    rates: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, pair in pairs.items():
            for worker in pair:
                worker.start(per_process)
            slowest = max(sum(worker.timed()["seconds"]) for worker in pair)
            rates[name].append(round(2 * per_process / slowest, 3))
    for pair in pairs.values():
        for worker in pair:
            worker.close()
    return {name: {"videos_per_s": max(values), "all": values} for name, values in rates.items()}


def correctness(clip: Path) -> dict:
    """The sampler's 40 frames vs PyAV decode-everything (identical?) and torchcodec exact (mean |diff|)."""
    import numpy as np

    from modeling_mimic_chat.frames_mimic_chat import sample_frames

    ours = sample_frames(clip, size=SIZE)
    union = sorted(set(ours.spatial_indices) | set(ours.temporal_indices))
    full = dict(zip(union, _pyav_full_then_pick(str(clip), 2, False), strict=True))
    identical = all(np.array_equal(ours.temporal[k].numpy(), full[i]) for k, i in enumerate(ours.temporal_indices))
    identical &= all(np.array_equal(ours.spatial[k].numpy(), full[i]) for k, i in enumerate(ours.spatial_indices))
    native = sample_frames(clip)
    theirs = sample_frames(clip, backend="torchcodec")
    diff = (native.temporal.int() - theirs.temporal.int()).abs().float()
    return {"identical_to_full_decode": bool(identical), "same_indices_as_torchcodec":
            native.temporal_indices == theirs.temporal_indices,
            "mean_abs_diff_vs_torchcodec_exact": round(float(diff.mean()), 4),
            "frames_decoded": ours.frames_decoded, "num_frames": ours.num_frames}


ANCHORS = ("pyav_full_then_pick", "tc_exact", "tc_approx", "decord")
LATENCY_GROUPS = [  # each group is measured interleaved; the first two hold every anchor of the 8 + 32 task
    [("mimic_exact", 2), ("pyav_full_then_pick", 2), ("tc_exact", 2), ("tc_approx", 2), ("decord", 2)],
    [("mimic_exact", 1), ("tc_exact", 1), ("tc_approx", 1), ("decord", 1)],
    [("mimic_exact_8", 2), ("tc_exact_8", 2), ("tc_approx_8", 2), ("decord_8", 2)],
    [("mimic_fast", 2), ("mimic_fast_8", 2), ("ffmpeg_keyframes_only", 2), ("ffmpeg_full_decode", 2)],
]
THROUGHPUT = ["mimic_exact", "mimic_fast", "tc_approx", "decord", "pyav_full_then_pick"]


def _table(results: dict) -> str:
    lines = ["Same job for every method: the union of the 8 spatial + 32 temporal segment-centre frames (_8: the 8 "
             "spatial), uint8 RGB 224x224 NHWC, resized in each decoder (frames out; ffmpeg rows are decode floors "
             "that return none). Competing methods interleaved round by round, best round kept.", "",
             "| clip | method | threads | ms/video (wall) | CPU ms/video | peak MB | of which imports MB | frames out |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, data in results["clips"].items():
        for row in data["latency"]:
            lines.append(f"| {kind} | {row['method']} | {row['threads']} | {row.get('ms', '-')} | {row.get('cpu_ms', '-')} | "
                         f"{row.get('peak_rss_mb', row.get('skipped', '-'))} | {row.get('imports_rss_mb') or '-'} | "
                         f"{row.get('frames_out', '-')} |")
    lines += ["", "| clip | method | videos/s (2 processes x 1 thread, best round) | all rounds |", "|---|---|---|---|"]
    for kind, data in results["clips"].items():
        lines += [f"| {kind} | {m} | {v['videos_per_s']} | {v['all']} |" for m, v in data["throughput"].items()]
    lines += ["", "| clip | mimic_exact (8+32) speed-up over the best anchor: wall / CPU / throughput | mimic_fast / "
              "keyframe floor: wall / CPU | identical to full decode | mean abs diff vs torchcodec exact |",
              "|---|---|---|---|---|"]
    for kind, data in results["clips"].items():
        s = data["summary"]
        lines.append(f"| {kind} | {s['speedup_vs_best_anchor']}x ({s['best_anchor']}) / {s['cpu_speedup_vs_best_anchor']}x "
                     f"({s['best_anchor_cpu']}) / {s['throughput_speedup_vs_best_anchor']}x "
                     f"({s['best_anchor_throughput']}) | {s['fast_over_floor']}x / {s['fast_over_floor_cpu']}x | "
                     f"{data['correctness']['identical_to_full_decode']} | "
                     f"{data['correctness']['mean_abs_diff_vs_torchcodec_exact']} |")
    return "\n".join(lines)


def _summary(rows: list[dict], rates: dict) -> dict:
    def get(method, key, threads=2):
        return next(r[key] for r in rows if r["method"] == method and r["threads"] == threads and key in r)

    result = {}
    for key, suffix in (("ms", ""), ("cpu_ms", "_cpu")):
        anchors = {f"{r['method']}_t{r['threads']}": r[key] for r in rows if key in r and r["method"] in ANCHORS}
        best = min(anchors, key=anchors.get)
        result.update({f"best_anchor{suffix}": best, f"best_anchor{suffix}_ms": anchors[best],
                       f"mimic_exact{suffix}_ms": get("mimic_exact", key),
                       f"{'cpu_' if suffix else ''}speedup_vs_best_anchor": round(anchors[best] / get("mimic_exact", key), 2),
                       f"fast_over_floor{suffix}": round(get("mimic_fast", key) / get("ffmpeg_keyframes_only", key), 2)})
    anchor_rates = {m: v["videos_per_s"] for m, v in rates.items() if m in ANCHORS}
    best = max(anchor_rates, key=anchor_rates.get)
    result.update({"best_anchor_throughput": best, "throughput_speedup_vs_best_anchor":
                   round(rates["mimic_exact"]["videos_per_s"] / anchor_rates[best], 2)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--corpus", type=Path, default=Path(".cache/bench-corpus"))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (latency and throughput)")
    parser.add_argument("--kinds", nargs="+", default=["tiktok", "yt"])
    parser.add_argument("--throughput-videos", type=int, default=2, help="videos per process in a throughput round")
    parser.add_argument("--no-install-anchors", action="store_true", help="do not install decord when it is missing")
    parser.add_argument("--worker")
    parser.add_argument("--clip")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.worker == "correctness":
        print(json.dumps(correctness(Path(args.clip))))
        return
    if args.worker:
        serve(args.worker, args.clip, args.threads)
        return

    sys.path.insert(0, str(Path(__file__).parent))
    from corpus import build_corpus

    from mimic_data.io import atomic_write_json

    clips = build_corpus(args.corpus, per_kind=1)
    have_decord = _decord_python() is not None or (not args.no_install_anchors and _install_decord() is not None)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "load_average_before": os.getloadavg()},
               "decord": "measured" if have_decord else "not importable here or in .cache/decord-venv",
               "size": SIZE, "repeats": args.repeats, "clips": {}}
    for kind in args.kinds:
        clip = clips[kind][0]
        rows = []
        for group in LATENCY_GROUPS:
            skipped = [(m, t) for m, t in group if m.startswith("decord") and not have_decord]
            rows += [{"method": m, "threads": t, "skipped": "decord unavailable"} for m, t in skipped]
            rows += latency([g for g in group if g not in skipped], clip, args.repeats)
            print(kind, *(f"{r['method']} t{r['threads']}: {r.get('ms')} ms" for r in rows[-len(group):]), sep="\n  ",
                  file=sys.stderr, flush=True)
        check = subprocess.run([sys.executable, __file__, "--worker", "correctness", "--clip", str(clip)],
                               stdout=subprocess.PIPE, text=True, check=True)  # its memory stays out of the parent
        rates = throughput([m for m in THROUGHPUT if have_decord or not m.startswith("decord")], clip,
                           args.throughput_videos, args.repeats)
        results["clips"][kind] = {"clip": str(clip), "latency": rows, "throughput": rates,
                                  "correctness": json.loads(check.stdout.strip().splitlines()[-1]),
                                  "summary": _summary(rows, rates)}
    results["machine"]["load_average_after"] = os.getloadavg()
    atomic_write_json(args.out / "sampler.json", results)
    print(_table(results))


if __name__ == "__main__":
    main()
