"""What every reader shares: decoding a file and collecting records and quarantined rows."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from etl.records import make_record, quarantine_row

UTF8_BOM = b"\xef\xbb\xbf"
# what Excel's "Unicode text" and other Windows tools write: the byte-order mark names the
# encoding (UTF-32's marks first: UTF-32 LE's begins with UTF-16 LE's)
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass
class Decoded:
    text: str
    encoding: str
    had_bom: bool


def decode_file(path: Path) -> Decoded:
    """Text of a file exported by any of the usual tools.

    A byte-order mark of UTF-16 or UTF-32 names the encoding; else UTF-8 (with or without a BOM); a file that is not valid UTF-8 is
    read as Windows-1252, the encoding spreadsheet exports on Western machines
    use, which is a superset of Latin-1's printable range; Latin-1 last, as it
    decodes any byte. The encoding used is reported, never silently assumed.
    """
    data = path.read_bytes()
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(encoding), encoding, True)
            except UnicodeDecodeError:
                break  # a mark that lies: read as below
    had_bom = data.startswith(UTF8_BOM)
    if had_bom:
        data = data[len(UTF8_BOM) :]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return Decoded(data.decode(encoding), encoding, had_bom)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte sequence")  # pragma: no cover


def parse_json(line: str) -> tuple[object, str | None]:
    """(object, None), or (None, why not): the decoder's message and column, never the text. A line
    nested deeper than the decoder's recursion allows (an attack, or a broken export) is a bad
    line like any other, not the end of the run."""
    try:
        return json.loads(line), None
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "nested deeper than a JSON line can be read"


def describe_validation_error(exc: ValidationError) -> str:
    """Field paths and messages only: pydantic's default text would echo the input value."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(row)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


@dataclass
class ReadResult:
    """What one reader got out of one file."""

    source: str
    source_file: str
    encoding: str = "utf-8"
    had_bom: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    # a problem with the whole file (missing columns, empty, unreadable): the run stops
    # before publishing unless on_source_error: skip; {code, problem, fix}
    file_error: dict[str, str] | None = None
    _seen_keys: set[str] = field(default_factory=set)

    @property
    def units(self) -> int:
        """Raw units seen: each one became a record or a quarantined row."""
        return len(self.records) + len(self.quarantine)

    def add(self, line: int, native_key: str, turns: list[dict[str, str]], meta: dict[str, Any], raw: str) -> None:
        if native_key in self._seen_keys:
            self.reject(line, "duplicate_id", "id already used earlier in this file", raw)
            return
        self._seen_keys.add(native_key)
        meta = {**meta, "encoding": self.encoding}
        self.records.append(make_record(self.source, self.source_file, line, native_key, turns, meta))

    def reject(self, line: int, code: str, error: str, raw: str) -> None:
        self.quarantine.append(quarantine_row(self.source, self.source_file, line, code, error, raw))

    def fail_file(self, code: str, problem: str, fix: str, raw: str | None = None) -> None:
        """The whole file is unusable. With `raw`, it also counts as one quarantined unit
        (a file with no readable row still came in as something)."""
        if raw is not None:
            self.reject(1, code, problem, raw)
        self.file_error = {"code": code, "problem": problem, "fix": fix}

    def check_some_rows(self, what: str) -> None:
        """A file that held rows but gave no record at all is most likely the wrong file or format."""
        if self.file_error is None and not self.records and self.quarantine:
            codes = sorted({row["error_code"] for row in self.quarantine})
            self.fail_file(
                "no_valid_rows",
                f"none of its {len(self.quarantine)} {what} could be read ({', '.join(codes)})",
                "check that the file is the right export in the expected format; the quarantine lists each row's error",
            )


EMPTY_FIX = "an empty export usually means the export job failed: export it again, or remove the file"


def raw_lines(text: str, first: int, last: int) -> str:
    """Lines first..last (1-based, inclusive) of a file's text: the raw text of a row."""
    return "\n".join(text.splitlines()[first - 1 : last])


@dataclass(frozen=True)
class SourceMapping:
    """How one configured source's export maps onto our fields (`sources.<kind>` in the config),
    with the config line of each mapped column so an error can point at it."""

    key: str  # where it sits under sources: "reviews", or "reviews.1" in a list
    spec: Any  # etl.config.FileSource or a subclass; a bare path takes the defaults
    lines: dict[str, str] = field(default_factory=dict)

    @property
    def mapped(self) -> dict[str, str]:
        """Our field -> the export's name for it, for the fields the config renames."""
        columns = getattr(self.spec, "columns", None)
        return columns.model_dump(exclude_none=True) if columns is not None else {}

    def column(self, name: str) -> str:
        return self.mapped.get(name, name)

    def line(self, name: str) -> str:
        return self.lines.get(name, f"sources.{self.key}.columns.{name}")


def parse_time(value: str | None, date_format: str | None) -> str | None:
    """ISO 8601 text of a date or time written with `date_format` (strftime codes); without one,
    or for a blank value, the value as it is (pydantic checks ISO 8601 and names a blank one)."""
    if value is None or not date_format or not str(value).strip():
        return value
    return datetime.strptime(str(value).strip(), date_format).isoformat()


def mapped_value(value: Any, mapping: dict[str, Any]) -> Any:
    """The export's value in our terms: exact, then case-insensitive; unlisted values as they are."""
    if value is None or not mapping:
        return value
    text = str(value).strip()
    if text in mapping:
        return mapping[text]
    folded = {str(k).casefold(): v for k, v in mapping.items()}
    return folded.get(text.casefold(), value)
