"""Tests run offline with a throwaway Hugging Face cache: nothing may reach a hub."""

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="mimic-test-hf-")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
