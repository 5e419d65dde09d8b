"""Validate: the Great Expectations gate before publishing.

stage.py      the stage: which suite checks which frame, what fails a run (exit 7)
gx_suites.py  the engine under it: suites loaded from expectations/, batches, Data Docs;
              `etl validate` and `etl eval` use it too
"""
