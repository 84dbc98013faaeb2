"""`mimic_space`: the Space app (app.py, comment_engine.py, human_or_ai.py) and its assembler (assemble.py)."""
