"""The pipeline's stages, one module (or package) a stage, in run order:

    ingest -> clean -> deidentify -> dedup -> format -> semantic -> split -> augment
    -> synthesize -> ground -> preference -> validate -> publish

Each follows the contract in `etl/stages/base.py`; `etl/run/registry.py` names them.
"""
