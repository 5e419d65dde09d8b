"""What every command shares: the consoles, one line and an exit code on error, the options
that mean the same in every command, and finding the store a command reads."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from etl.config import load_config
from etl.errors import ConfigError, EtlError, StoreAccessError, capped, describe_os_error

# emoji off: ":x:" in a path or a message is text, never a picture (markup is escaped where printed)
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)


class Process:
    """What kind of process runs the command: `one_command` when it is the `etl` command's own
    (etl.cli.main), which ends with the command; False when a test or a notebook calls the app
    and keeps its process (and what it loaded) for more."""

    one_command = False


StoreOption = Annotated[
    Path | None, typer.Option("--store", help="Store folder (default: the config's store, $ETL_STORE, or ./store).")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Pipeline YAML whose store to use.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
QuietOption = Annotated[bool, typer.Option(help="No progress bars.")]


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, caught by a command that can say what state it left behind."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


def say_error(message: str) -> None:
    # soft_wrap: one message is one line, whatever the terminal width (scripts grep for it)
    errors.print(f"[red]error:[/red] {escape(capped(message))}", highlight=False, soft_wrap=True)


def handled(command):
    """Every command ends in one line and a documented exit code on a user error or Ctrl-C,
    never a traceback (exit codes: etl/errors.py, and the README)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EtlError as exc:
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            say_error(describe_os_error(exc, "cannot use"))
            raise typer.Exit(StoreAccessError.exit_code) from None
        except (KeyboardInterrupt, Interrupted) as exc:
            state = exc.state if isinstance(exc, Interrupted) else "nothing was published."
            errors.print(f"interrupted: {escape(state)}", highlight=False, soft_wrap=True)
            # the run has written its summary and released the store lock by now; leave at once,
            # without waiting at exit for worker threads a second time (they would turn the exit
            # status into "killed by SIGINT" instead of 130)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)

    return wrapper


def store_root(store: Path | None, config: Path | None) -> Path:
    """--store, else the config's store, else $ETL_STORE or ./store; an error when it is not a folder."""
    from etl.api import default_store

    root = store if store is not None else load_config(config).store_dir() if config is not None else default_store()
    if root.exists() and not root.is_dir():
        raise StoreAccessError(f"store {root} is a file, not a folder. Pass --store with the store folder.")
    if not root.exists():
        raise ConfigError(
            f"store {root} does not exist. Pass --store (or --config) with the folder `etl run` published to."
        )
    return root


def open_version(ref: str, store: Path | None, config: Path | None):
    """(Store, version name) for DATASET[@VERSION]; a clear error when there is no such version."""
    from etl.store import Store

    dataset, _, version = ref.partition("@")
    target = Store(store_root(store, config), dataset)
    return target, target.resolve(version or "latest")


def comma_list(text: str | None) -> list[str] | None:
    """`a, b,c` -> ["a", "b", "c"]; None when the option was not given."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None
