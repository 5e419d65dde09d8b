"""`python -m etl ...`: the same CLI, for launchers that take a module (torchrun, accelerate launch)."""

from etl.cli import app

app()
