"""The `etl` command: this file is its table of contents, one module a command family.

    run.py       etl run (--dry-run), etl purge-runs        the nightly job and its work folder
    versions.py  etl versions, show, validate, diff, gc, pin  reading and keeping the store
    project.py   etl init, etl sample-data                    starting out
    training.py  etl train (merge, --method dpo|kto), promote, models demo   the model side
    evaluation.py  etl eval (freeze)                         base and adapter on the eval set
    common.py    consoles, errors and exit codes, the options every command shares

A new command goes in its family's module and is registered below.
"""

from __future__ import annotations

import typer

from etl.cli import evaluation, project, run, training, versions
from etl.cli.common import Process, handled

app = typer.Typer(
    name="etl",
    help="Curated, de-identified, versioned instruction datasets from customer text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for name, command in (
    ("run", run.run),
    ("init", project.init),
    ("sample-data", project.sample_data),
    ("purge-runs", run.purge_runs),
    ("versions", versions.versions),
    ("show", versions.show),
    ("validate", versions.validate),
    ("diff", versions.diff),
    ("gc", versions.gc),
    ("pin", versions.pin),
):
    app.command(name)(handled(command))
app.add_typer(training.train_app, name="train")
app.add_typer(evaluation.eval_app, name="eval")
app.command("promote")(handled(training.promote))
app.add_typer(training.models_app, name="models")


def main() -> None:
    """`etl` as a process of its own (the console script, `python -m etl.cli`): the command, then
    its output flushed, the exit handlers run and the process left at once. Tearing down the
    libraries a run loaded (presidio, spaCy, torch, Great Expectations) took 1.5 s of a night's
    run on 2 cores, after its work was done; tests call `app` itself and keep their process."""
    import atexit
    import logging
    import os
    import sys

    Process.one_command = True
    try:
        app()
        code = 0
    except SystemExit as leaving:
        code = leaving.code
    if not isinstance(code, int):  # sys.exit("message") or sys.exit(None)
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    logging.shutdown()
    atexit._run_exitfuncs()  # what the interpreter would run at exit: pools, temporary folders
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
