"""Errors a user can act on. Each carries the `etl` exit code it ends a command with,
and a message that says what is wrong and how to fix it (never a traceback).

    2  ConfigError       the config, a command-line argument or a version name is wrong
    3  InvariantError    the accounting invariant broke (a bug: rows were lost); nothing published
    4  StoreLockedError  another run holds the store's lock
    5  SourceError       an input file is unusable (missing or unknown columns, empty, unreadable)
    6  StoreAccessError  a folder or file the command needs cannot be read or written
    7  QualityGateError  a quality suite of severity `fail` failed; nothing published
    8  NOTHING_NEW       `etl run` found nothing new: a version already holds tonight's fingerprint
    9  KEPT_CURRENT      `etl promote` kept the current adapter: the new one is worse on a task
  130  interrupted (Ctrl-C); the command says whether anything was published
"""

from __future__ import annotations

import errno
import shutil

# not an error: a scheduler can tell "published" (0) from "nothing new tonight" (8) from a failure
NOTHING_NEW = 8
# `etl promote` kept the current adapter: the new one is worse on a task (not a failure either)
KEPT_CURRENT = 9


class EtlError(Exception):
    exit_code = 1


class ConfigError(EtlError):
    """A config, argument or name that cannot be used; the message says where and how to fix it."""

    exit_code = 2


class InvariantError(EtlError):
    """The counts do not add up: some row was lost or counted twice."""

    exit_code = 3


class StoreError(ConfigError):
    """A store question with no answer (no such dataset, version or task): exit 2."""


class StoreLockedError(StoreError):
    exit_code = 4


class SourceError(EtlError):
    """One or more input files cannot be used; the message names each file, the problem and the fix."""

    exit_code = 5


class StoreAccessError(StoreError):
    exit_code = 6


class QualityGateError(EtlError):
    """A quality suite of severity `fail` failed: nothing is published."""

    exit_code = 7


def describe_os_error(exc: OSError, what: str) -> str:
    """One sentence for a file-system error: which path, what went wrong, what to do."""
    path = exc.filename or "?"
    reason = exc.strerror or exc.__class__.__name__
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        # a tree copy's errors, one (source, target, why) per file: the first target and why
        _, path, why = exc.args[0][0]
        reason = str(why).split(":")[0].split("] ")[-1]
    if exc.errno == errno.ENOSPC or reason == "No space left on device":
        return f"{what} {path}: no space left on the device. Free space there, or point --store or --work elsewhere."
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return f"{what} {path}: a file is in the way where a folder is needed ({reason}). Point it at a folder, or move the file."
    if isinstance(exc, PermissionError):
        return f"{what} {path}: permission denied. Give this user write access, or choose another folder."
    return f"{what} {path}: {reason}."


MESSAGE_LIMIT = 2000


def capped(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """A message at most `limit` characters long: whatever built it, a log line never carries a
    file's worth of text."""
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message):,} characters, cut)"
