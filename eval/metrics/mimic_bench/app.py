"""The metric's Space page: evaluate's standard widget over this folder's module (loaded by file, so the folder's name
does not matter)."""

from pathlib import Path

import evaluate
from evaluate.utils import launch_gradio_widget

launch_gradio_widget(evaluate.load(str(Path(__file__).with_name("mimic_bench.py"))))
