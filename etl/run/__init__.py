"""The orchestration layer: a run from config to published version.

    runner.py       the stage loop: ordering, counts, timing, the accounting invariant
    registry.py     which stages make a pipeline, and what each is handed (`RunContext`)
    executors.py    where parallel work runs (local processes, or Ray)
    incremental.py  the per-file cache that lets a night read only new files
    summary.py      what a person or a log sees of a run (progress, the summary table)

The runner knows the stage contract (etl/stages/base.py), never a stage's insides.
"""
