"""FAQs, from Markdown (a question, then its answer paragraphs) or CSV (`question,answer,category`).

A question is a `### question` heading, a `## question?` heading, a `**question?**` line or a
`Q: question` line (its answer may open with `A:`).

In Markdown a `##` heading names the category of the questions under it. An
FAQ has no natural id, so its key is the question itself (with an occurrence
number if it repeats, which the dedup stage then handles as a duplicate).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from etl.stages.ingest.common import EMPTY_FIX, ReadResult, decode_file
from etl.stages.ingest.reviews import header_problem

# The shapes FAQ pages are written in: a `### question` heading, a `## question?` heading (a
# `##` heading without a question mark names a category), a bold question line, or `Q:` / `A:`
QUESTION = re.compile(
    r"^(?:###\s+(?P<h3>.*?)|##\s+(?P<h2>[^#].*?\?)|\*\*(?P<bold>[^*]+?\?)\*\*|Q(?:uestion)?\s*[:.]\s*(?P<qa>\S.*?))\s*#*\s*$"
)
CATEGORY = re.compile(r"^##\s+(?P<c>[^#].*?)\s*#*\s*$")
ANSWER_LABEL = re.compile(r"^A(?:nswer)?\s*[:.]\s*")
# "...we deliver on Fridays.### Do you cater?": a heading glued to the end of a line starts its own
GLUED_HEADING = re.compile(r"(?<=[^\s#])[ \t]*(?=#{2,3}[ \t]+\S)")
SHAPES = "'### question' or '## question?' headings, '**question?**' lines, or 'Q:' and 'A:' lines"


def question_of(line: str) -> str | None:
    match = QUESTION.match(line)
    return next(v for v in match.group("h3", "h2", "bold", "qa") if v is not None) if match else None


def read_faqs(path: Path, source_file: str) -> ReadResult:
    if path.suffix.lower() == ".csv":
        return _read_faq_csv(path, source_file)
    return _read_faq_markdown(path, source_file)


class _Keys:
    """Question text as key; a repeated question gets `#2`, `#3`, ..."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def key(self, question: str) -> str:
        norm = " ".join(question.lower().split())
        self.counts[norm] = self.counts.get(norm, 0) + 1
        n = self.counts[norm]
        return norm if n == 1 else f"{norm}#{n}"


def _add_faq(
    result: ReadResult, keys: _Keys, line: int, question: str, answer: str, category: str | None, raw: str
) -> None:
    if not question.strip():
        result.reject(line, "missing_question", "FAQ entry has an empty question", raw)
    elif not answer.strip():
        result.reject(line, "missing_answer", "FAQ question has no answer", raw)
    else:
        turns = [{"role": "user", "text": question.strip()}, {"role": "assistant", "text": answer.strip()}]
        result.add(line, keys.key(question), turns, {"category": category}, raw)


def _read_faq_markdown(path: Path, source_file: str) -> ReadResult:
    decoded = decode_file(path)
    result = ReadResult("faq", source_file, decoded.encoding, decoded.had_bom)
    keys, category = _Keys(), None
    current: tuple[int, str] | None = None
    answer: list[str] = []

    def flush() -> None:
        if current is not None:
            line, question = current
            text = "\n".join(answer).strip()
            # paragraphs stay paragraphs; lines inside a paragraph are joined
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
            raw = "### " + question + ("\n" + text if text else "")
            _add_faq(result, keys, line, question, "\n\n".join(paragraphs), category, raw)

    for number, whole in enumerate(decoded.text.splitlines(), start=1):
        for line in GLUED_HEADING.sub("\n", whole).split("\n"):
            if (question := question_of(line)) is not None:
                flush()
                current, answer = (number, question), []
            elif match := CATEGORY.match(line):
                flush()
                current, answer, category = None, [], match["c"]
            elif current is not None:
                answer.append(ANSWER_LABEL.sub("", line) if not answer else line)
    flush()
    if result.units == 0:
        if decoded.text.strip():
            fix = f"write each question as one of {SHAPES}, its answer below it; check the file is the FAQ document"
            result.fail_file("no_valid_rows", "no question found", fix, decoded.text[:2000])
        else:
            result.fail_file("empty_file", "the file is empty", EMPTY_FIX, "")
    result.check_some_rows("entries")
    return result


def _read_faq_csv(path: Path, source_file: str) -> ReadResult:
    decoded = decode_file(path)
    result = ReadResult("faq", source_file, decoded.encoding, decoded.had_bom)
    reader = csv.DictReader(io.StringIO(decoded.text, newline=""))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if not fields:
        result.fail_file("empty_file", "the file is empty (no header row)", EMPTY_FIX, "")
        return result
    if problem := header_problem(fields, ["question", "answer"], optional=("category",)):
        code, text = problem
        result.fail_file(
            code,
            text,
            "the header must be question,answer[,category]; fix the export or rename the column(s)",
            ",".join(fields),
        )
        return result
    reader.fieldnames = fields
    keys, previous_end = _Keys(), reader.line_num
    for row in reader:
        start, previous_end = previous_end + 1, reader.line_num
        raw = ",".join(v or "" for v in row.values() if isinstance(v, str))
        if None in row or any(v is None for v in row.values()):
            result.reject(start, "wrong_column_count", f"expected {len(fields)} fields", raw)
            continue
        _add_faq(result, keys, start, row["question"], row["answer"], row.get("category") or None, raw)
    if result.units == 0:
        result.fail_file("empty_file", "the file has a header but no rows", EMPTY_FIX, ",".join(fields))
    result.check_some_rows("rows")
    return result
