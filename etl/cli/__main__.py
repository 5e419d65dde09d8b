"""`python -m etl.cli ...`: the same command, for tests and benchmarks that run it from a checkout."""

from etl.cli import main

main()
