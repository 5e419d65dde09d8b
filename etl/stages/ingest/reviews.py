"""Product reviews: `review_id,created_at,customer_name,customer_email,rating,item,store,text`.

A company's own export with other column names, dates or rating values is described in the
config (`sources.reviews.columns`, `date_format`, `values`, `rating_scale`): then only `text`
is needed, columns nobody maps are ignored, and a review without an id is known by its line.

Parsed with the standard `csv` module rather than `polars.read_csv`: a review
export has quoted multi-line texts and the odd row with a wrong number of
fields, and each such row must be quarantined with its own line number while
the rest of the file is kept. polars takes over as soon as rows are parsed.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from etl.config import REVIEW_FIELDS, ReviewSource
from etl.stages.ingest.common import (
    EMPTY_FIX,
    ReadResult,
    SourceMapping,
    decode_file,
    describe_validation_error,
    mapped_value,
    parse_time,
    raw_lines,
)

COLUMNS = list(REVIEW_FIELDS)


class ReviewRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    review_id: str = Field(min_length=1)
    created_at: datetime | None
    customer_name: str | None = None
    customer_email: str | None = None
    rating: int | None = Field(ge=1, le=5)
    item: str | None = None
    store: str | None = None
    text: str

    @field_validator("customer_name", "customer_email", "item", "store", mode="before")
    @classmethod
    def _empty_is_null(cls, value: str | None) -> str | None:
        return value or None


def _add_row(result: ReadResult, values: dict[str, str], start: int, source: SourceMapping, raw: str) -> None:
    """One review row validated and added to `result`, or rejected with the field at fault."""
    try:
        row = ReviewRow.model_validate(_canonical(values, start, source.spec))
    except (ValidationError, ValueError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else _value_problem(exc)
        result.reject(start, "invalid_field", detail, raw)
        return
    meta = {
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "rating": row.rating,
        "item": row.item,
        "store": row.store,
        "customer_name": row.customer_name,
        "customer_email": row.customer_email,
    }
    result.add(start, row.review_id, [{"role": "user", "text": row.text}], meta, raw)


def read_reviews(path: Path, source_file: str, source: SourceMapping | None = None) -> ReadResult:
    source = source or SourceMapping("reviews", ReviewSource(path=source_file))
    decoded = decode_file(path)
    result = ReadResult("review", source_file, decoded.encoding, decoded.had_bom)
    reader = csv.reader(io.StringIO(decoded.text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        result.fail_file("empty_file", "the file is empty (no header row)", EMPTY_FIX, "")
        return result
    header = [h.strip().lower() for h in header]
    if problem := _header_problem(header, source):
        code, text, fix = problem
        result.fail_file(code, text, fix, ",".join(header))
        return result
    where = {
        name: header.index(source.column(name).lower()) for name in COLUMNS if source.column(name).lower() in header
    }

    previous_end = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start = previous_end + 1
            result.reject(
                start,
                "csv_error",
                f"unparseable CSV: {exc}",
                raw_lines(decoded.text, start, max(start, reader.line_num)),
            )
            previous_end = reader.line_num
            continue
        start, previous_end = previous_end + 1, reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue  # a blank line is not a row
        raw = _raw_line(fields)
        if len(fields) != len(header):
            result.reject(start, "wrong_column_count", f"expected {len(header)} fields, found {len(fields)}", raw)
            continue
        _add_row(result, {n: fields[i] for n, i in where.items()}, start, source, raw)
    if result.units == 0:
        result.fail_file("empty_file", "the file has a header but no rows", EMPTY_FIX, ",".join(header))
    result.check_some_rows("rows")
    return result


def _header_problem(header: list[str], source: SourceMapping) -> tuple[str, str, str] | None:
    """(code, problem, fix) when the header cannot be read. Without a mapping the header must be
    ours exactly; with one, every mapped column must be there, and a text column."""
    if not source.mapped:
        if problem := header_problem(header, COLUMNS):
            fix = (
                f"the header must be {','.join(COLUMNS)}; rename the column(s) in the export, or map them under "
                "sources.reviews.columns (e.g. `text: comment`; `etl init` guesses the mapping)"
            )
            return (*problem, fix)
        return None
    for name, column in source.mapped.items():
        if column.lower() not in header:
            return (
                "missing_columns",
                f"the header has no column '{column}', which {source.line(name)} maps to {name}",
                "fix the column name on that line of the config to match the export's header",
            )
    if source.column("text").lower() not in header:
        return (
            "missing_columns",
            "the header has no text column",
            "map the review text under sources.reviews.columns (e.g. `text: comment`)",
        )
    return None


def _canonical(values: dict[str, str], line: int, spec: ReviewSource) -> dict:
    """One row's fields in our terms: the rating mapped and scaled, the date parsed, an id if none."""
    row = {name: values.get(name) for name in COLUMNS}
    row["review_id"] = row["review_id"] if row["review_id"] is not None else f"line-{line}"
    row["created_at"] = parse_time(row["created_at"], spec.date_format)
    row["rating"] = _rating(row["rating"], spec)
    return row


def _rating(value: str | None, spec: ReviewSource) -> int | str | None:
    value = mapped_value(value, spec.values.rating)
    if value is None or isinstance(value, int) or spec.rating_scale == 5:
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        return value  # pydantic names it as the invalid field
    return max(1, math.ceil(number * 5 / spec.rating_scale))


def _value_problem(exc: ValueError) -> str:
    """A date that does not fit date_format: the format, never the value."""
    return (
        "created_at: does not match sources.reviews.date_format"
        if "does not match format" in str(exc)
        else "a field could not be read"
    )


def header_problem(header: list[str], expected: list[str], optional: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(code, problem) when a CSV header lacks an expected column or has one nobody reads.

    The problem names our columns and counts and positions of the others, never their text: a
    file without its header row has a customer's row there (a name, an e-mail, a card number),
    and the message goes to the terminal, the scheduler's log and the run summary."""
    missing = [c for c in expected if c not in header]
    unknown = [i + 1 for i, c in enumerate(header) if c not in expected and c not in optional]
    others = f"{len(unknown)} of its {len(header)} column(s) (number {_positions(unknown)}) are not ours"
    if missing and unknown:
        headerless = len(missing) == len(expected)
        why = "is the header row missing?" if headerless else "renamed? `etl init` maps renamed columns"
        return "missing_columns", f"the header lacks column(s) {missing} and {others} ({why})"
    if missing:
        return "missing_columns", f"the header lacks column(s) {missing}"
    if unknown:
        return "unknown_columns", f"{others}; map or remove them"
    return None


def _positions(numbers: list[int], shown: int = 8) -> str:
    return ", ".join(map(str, numbers[:shown])) + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def _raw_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)
    return buffer.getvalue().rstrip("\r\n")
