"""Evaluation (installed as `mimic_eval`), in four parts:

- `harness/`: the runner (MCQ runs, conditions, resume, sharding under `accelerate launch`), comment generation,
  bench reading, frame prefetch, the per-sample log and run manifests;
- `adapters/`: one file per model family (`hf:`, `mimic-chat:`, `openai:`, random/blind baselines), `registry.py`;
- `leaderboard.py` (tables and plots over run folders) and `lmms_export.py` (an lmms-eval task from a bench folder);
- `study/`: the comment-mimicking blind study; `metrics/`: thin `evaluate` modules over `mimic_bench.scoring`.
"""
