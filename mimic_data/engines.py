"""Run one job per shard on this machine (processes) or on a Ray cluster, and watch their ledgers from the driver.

Hydration (`mimic hydrate download`) and the crawl (`mimic data crawl`) split their work into shards
(`mimic_data.io.shard_of`); each shard is one job that writes only its own append-only ledger, in a folder every worker
sees (one machine's disk, or a shared filesystem for a cluster). `run_shards` runs the jobs on an engine:
- "local" (the default): one job runs in this process; several run in a process pool, one process per job.
- "ray": each job is a Ray task. A task whose worker dies (killed, out of memory, a lost node) is run again by Ray
  (`max_retries`) and resumes from its ledger, so nothing is lost or done twice. `ray_address` joins a running cluster
  ("auto", "HOST:6379", "ray://HOST:10001"); without one a local runtime is started, with one CPU slot per job
  (downloads wait on the network, not on a core), and shut down afterwards. Every node needs this project installed
  (`pip install '.[ray]'`) and the folder at the same path.
`LedgerTail` reads what the jobs append (from wherever they run) for the driver's one progress line and the run's
summary. `worker_settings` gives each job its own proxy and pace, because sites limit requests per IP.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ENGINES = ("local", "ray")
RAY_MAX_RETRIES = 3  # re-runs of a task whose worker died; a task that raises is not re-run (its error is reported)
_POLL_S = 0.5


class ShardFailed(RuntimeError):
    """A job raised (or its worker died more often than Ray retries): names the shards and their errors."""


def worker_settings(base: Any, workers: int, **per_worker: Sequence[Any] | None) -> list[Any]:
    """`base` (a frozen dataclass) for each of `workers` workers, each field of `per_worker` (e.g. proxy=[...])
    replaced by its value for that worker: a list given once applies to every worker, else it needs one per worker."""
    columns = {}
    for field, values in per_worker.items():
        values = list(values or [])
        if len(values) not in (0, 1, workers):
            raise ValueError(f"--{field} given {len(values)} times for {workers} workers: give it once (every "
                             "worker) or once per worker")
        columns[field] = values * workers if len(values) == 1 else values
    return [dataclasses.replace(base, **{field: values[k] for field, values in columns.items() if values})
            for k in range(workers)]


def add_worker_arguments(parser: Any, unit: str) -> None:
    """--workers, --engine, --ray-address, and the per-worker --proxy / --sleep (seconds between `unit`)."""
    from .cli import non_negative_float

    parser.add_argument("--proxy", action="append", metavar="URL",
                        help="proxy URL passed to yt-dlp; once for every worker or once per worker (an IP each)")
    parser.add_argument("--sleep", action="append", type=non_negative_float, metavar="SECONDS",
                        help=f"seconds between {unit}, per worker; once for every worker or once per worker [5]")
    parser.add_argument("--workers", type=int, default=1,
                        help="workers (processes or Ray tasks), each with its own ledger shard [%(default)s]")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: processes on this machine; ray: Ray tasks (pip install '.[ray]') [%(default)s]")
    parser.add_argument("--ray-address", help="a running Ray cluster (auto, HOST:6379, ray://HOST:10001); "
                                              "default: start a local runtime")


def run_shards(fn: Callable[..., Any], jobs: Sequence[tuple], names: Sequence[str], *, engine: str = "local",
               ray_address: str | None = None, on_wait: Callable[[], None] | None = None) -> list[Any]:
    """fn(*job) for every job on the engine; their results in job order. on_wait runs about every 0.5 s meanwhile.

    Every job runs to its end even when another fails; then ShardFailed names each failed shard with its error.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if engine == "ray":
        outcomes = _run_ray(fn, jobs, names, ray_address, on_wait or _nothing)
    elif len(jobs) == 1:
        outcomes = [_outcome(fn, jobs[0])]
    else:
        outcomes = _run_processes(fn, jobs, on_wait or _nothing)
    failed = [f"{name}: {_one_line(error)}" for name, (ok, error) in zip(names, outcomes, strict=True) if not ok]
    if failed:
        raise ShardFailed(f"{len(failed)} of {len(jobs)} shards failed: {'; '.join(failed)}")
    return [result for _, result in outcomes]


def _nothing() -> None:
    pass


def _outcome(fn: Callable[..., Any], job: tuple) -> tuple[bool, Any]:
    try:
        return True, fn(*job)
    except Exception as exc:  # reported with its shard's name once every job has ended
        return False, exc


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _run_processes(fn: Callable[..., Any], jobs: Sequence[tuple], on_wait: Callable[[], None]) -> list:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, wait

    # spawn, not fork (which would copy the driver's threads and locks); a pool executor, not multiprocessing.Pool: a
    # worker that dies fails its future instead of hanging the pool
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=_POLL_S)
            on_wait()
    return [(False, f.exception()) if f.exception() else (True, f.result()) for f in futures]


def _run_ray(fn: Callable[..., Any], jobs: Sequence[tuple], names: Sequence[str], address: str | None,
             on_wait: Callable[[], None]) -> list:
    try:
        import ray
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'mimic-bench-release[ray]' (or '.[ray]')") from None
    owned = not ray.is_initialized()
    if owned:
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=max(len(jobs), os.cpu_count() or 1), include_dashboard=False)
    try:
        task = ray.remote(num_cpus=1, max_retries=RAY_MAX_RETRIES)(fn)
        refs = [task.options(name=name).remote(*job) for name, job in zip(names, jobs, strict=True)]
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=_POLL_S)
            on_wait()
        outcomes = [_outcome(ray.get, (ref,)) for ref in refs]
        # a task's own exception arrives wrapped in a RayTaskError
        return [(ok, value.cause if isinstance(value, ray.exceptions.RayTaskError) and value.cause else value)
                for ok, value in outcomes]
    finally:
        if owned:
            ray.shutdown()


class LedgerTail:
    """The rows appended to some JSONL ledgers from now on, read by the driver while jobs write them.

    Only whole lines are taken (a row being written is read on a later poll). Torn tails left by an earlier kill are
    repaired before the jobs start, so a job's own repair never moves a line this tail has already passed.
    `bar=True` shows one progress line: attempts so far, and ok / failed by each key's latest status in this run.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], key: str, desc: str, bar: bool = False):
        from tqdm.auto import tqdm

        from .io import JsonlLedger

        self.key, self.rows_by_path = key, {Path(p): [] for p in paths}
        self.offsets = {}
        for path in self.rows_by_path:
            JsonlLedger(path).extend([])  # repairs a torn last line, appends nothing
            self.offsets[path] = path.stat().st_size if path.exists() else 0
        self.latest: dict[str, str] = {}
        self._bar = tqdm(desc=desc, unit="attempt", disable=None if bar else True)

    def poll(self) -> None:
        new = 0
        for path, offset in self.offsets.items():
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                continue
            whole = data.rfind(b"\n") + 1
            for line in data[:whole].splitlines():
                try:
                    row = json.loads(line)
                except ValueError:  # as mimic_data.io.read_jsonl: a line that is not JSON is not a row
                    continue
                self.rows_by_path[path].append(row)
                self.latest[row[self.key]] = row["status"]
                new += 1
            self.offsets[path] = offset + whole
        if new:
            ok = sum(status == "ok" for status in self.latest.values())
            self._bar.set_postfix(ok=ok, failed=len(self.latest) - ok, refresh=False)
            self._bar.update(new)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [row for rows in self.rows_by_path.values() for row in rows]

    def close(self) -> None:
        self.poll()
        self._bar.close()
