"""Product reviews: `review_id,created_at,customer_name,customer_email,rating,item,store,text`.

Parsed with the standard `csv` module rather than `polars.read_csv`: a review
export has quoted multi-line texts and the odd row with a wrong number of
fields, and each such row must be quarantined with its own line number while
the rest of the file is kept. polars takes over as soon as rows are parsed.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from etl.stages.ingest.common import EMPTY_FIX, ReadResult, decode_file, describe_validation_error, raw_lines

COLUMNS = ["review_id", "created_at", "customer_name", "customer_email", "rating", "item", "store", "text"]


class ReviewRow(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    review_id: str = Field(min_length=1)
    created_at: datetime
    customer_name: str | None = None
    customer_email: str | None = None
    rating: int = Field(ge=1, le=5)
    item: str | None = None
    store: str | None = None
    text: str

    @field_validator("customer_name", "customer_email", "item", "store", mode="before")
    @classmethod
    def _empty_is_null(cls, value: str | None) -> str | None:
        return value or None


def read_reviews(path: Path, source_file: str) -> ReadResult:
    decoded = decode_file(path)
    result = ReadResult("review", source_file, decoded.encoding, decoded.had_bom)
    reader = csv.reader(io.StringIO(decoded.text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        result.fail_file("empty_file", "the file is empty (no header row)", EMPTY_FIX, "")
        return result
    header = [h.strip().lower() for h in header]
    if problem := header_problem(header, COLUMNS):
        code, text = problem
        result.fail_file(
            code,
            text,
            f"the header must be {','.join(COLUMNS)}; fix the export or rename the column(s)",
            ",".join(header),
        )
        return result

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
        try:
            row = ReviewRow.model_validate(dict(zip(header, fields)))
        except ValidationError as exc:
            result.reject(start, "invalid_field", describe_validation_error(exc), raw)
            continue
        meta = {
            "created_at": row.created_at.isoformat(),
            "rating": row.rating,
            "item": row.item,
            "store": row.store,
            "customer_name": row.customer_name,
            "customer_email": row.customer_email,
        }
        result.add(start, row.review_id, [{"role": "user", "text": row.text}], meta, raw)
    if result.units == 0:
        result.fail_file("empty_file", "the file has a header but no rows", EMPTY_FIX, ",".join(header))
    result.check_some_rows("rows")
    return result


def header_problem(header: list[str], expected: list[str], optional: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(code, problem) when a CSV header lacks an expected column or has one nobody reads."""
    missing = [c for c in expected if c not in header]
    unknown = [c for c in header if c not in expected and c not in optional]
    if missing and unknown:
        return (
            "missing_columns",
            f"the header lacks column(s) {missing} and has unknown column(s) {unknown} (renamed?)",
        )
    if missing:
        return "missing_columns", f"the header lacks column(s) {missing}"
    if unknown:
        return "unknown_columns", f"the header has unknown column(s) {unknown}"
    return None


def _raw_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(fields)
    return buffer.getvalue().rstrip("\r\n")
