"""MIMIC-Chat training throughput and peak memory: TRL SFTTrainer steps of the `tiny` preset on CPU.

Two variants — the paper recipe (LoRA on the LM's attention, projectors/gates in full) and the demo's full fine-tuning
of the random tiny LM — on SFT rows shaped like the synthetic bench's (letter answers and comment targets), with
pre-sampled random frames (decoding is measured by perf/sampler.py). Each variant runs in its own process so its
peak RSS is its own. Writes runs/bench/train.json and prints a table.

    .venv/bin/python perf/train.py --out runs/bench
"""

import argparse
import multiprocessing
import platform
import resource
import tempfile
import time
from pathlib import Path

VARIANTS = {  # `mimic train sft` flags over the tiny run of mimic_train.smoke
    "lora (paper recipe)": ["--use_peft", "true"],
    "full LM (demo)": ["--use_peft", "false", "--freeze_language_model", "false"],
}


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss can carry the parent's peak into a spawned child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measure(name: str, steps: int, batch_size: int, queue) -> None:
    from datasets import Dataset

    from mimic_train.sft import build_trainer
    from mimic_train.smoke import RandomFrames, smoke_rows, tiny_recipe

    with tempfile.TemporaryDirectory() as tmp:
        recipe = tiny_recipe(Path(tmp), *VARIANTS[name], "--max_steps", str(steps), "--per_device_train_batch_size",
                             str(batch_size), "--vocab_size", "2000", "--logging_steps", "1000000",
                             "--disable_tqdm", "true")  # only the table prints
        trainer = build_trainer(recipe, Dataset.from_list(smoke_rows(steps * batch_size)), RandomFrames())
        started = time.perf_counter()
        metrics = trainer.train().metrics
        wall = time.perf_counter() - started
    queue.put({
        "variant": name, "steps": steps, "batch_size": batch_size, "wall_s": round(wall, 2),
        "samples_per_s": round(steps * batch_size / wall, 2), "s_per_step": round(wall / steps, 3),
        "trainer_samples_per_s": metrics.get("train_samples_per_second"),
        "peak_rss_mb": peak_rss_mb(),
    })


def main() -> None:
    from mimic_data.io import atomic_write_json

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    rows = []
    for name in VARIANTS:
        queue = context.Queue()
        process = context.Process(target=measure, args=(name, args.steps, args.batch_size, queue))
        process.start()
        rows.append(queue.get())
        process.join()
    result = {"machine": platform.platform(), "cpu_count": multiprocessing.cpu_count(), "preset": "tiny",
              "frames": "random, pre-sampled", "variants": rows}
    atomic_write_json(args.out / "train.json", result)
    print(f"{'variant':<22}{'s/step':>8}{'samples/s':>11}{'peak RSS MB':>13}")
    for row in rows:
        print(f"{row['variant']:<22}{row['s_per_step']:>8}{row['samples_per_s']:>11}{row['peak_rss_mb']:>13}")


if __name__ == "__main__":
    main()
