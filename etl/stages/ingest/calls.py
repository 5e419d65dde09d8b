"""Call transcripts: one file per call.

    Call-ID: C-10023
    Date: 2026-03-02 14:05
    Agent: Dana

    [00:00:03] AGENT: Thanks for calling Healthy Bites, this is Dana.
    [00:00:07] CUSTOMER: hi, my order never showed up

Timestamps are optional. A line with no speaker label continues the turn
before it (transcription tools wrap long turns). A file is one raw unit: a
transcript without a `Call-ID` or without any speaker turn is quarantined whole.
"""

from __future__ import annotations

import re
from pathlib import Path

from etl.stages.ingest.common import ReadResult, decode_file

HEADER = re.compile(r"^(?P<key>[A-Za-z][A-Za-z -]{0,30}):\s*(?P<value>.*)$")
TURN = re.compile(r"^(?:\[(?P<ts>\d{1,2}:\d{2}(?::\d{2})?)\]\s*)?(?P<speaker>[A-Za-z]+)\s*:\s?(?P<text>.*)$")
SPEAKERS = {"agent": "assistant", "rep": "assistant", "supervisor": "assistant", "customer": "user", "caller": "user"}


def read_calls(path: Path, source_file: str) -> ReadResult:
    decoded = decode_file(path)
    result = ReadResult("call", source_file, decoded.encoding, decoded.had_bom)
    raw = decoded.text
    lines = raw.splitlines()
    headers, body_start = _parse_header(lines)
    turns = _parse_turns(lines[body_start:])
    if not raw.strip():
        result.reject(1, "empty_file", "transcript file is empty", raw)
    elif "call-id" not in headers:
        result.reject(1, "missing_header", "transcript lacks a 'Call-ID:' header line", raw)
    elif not turns:
        result.reject(1, "no_turns", "no 'AGENT:' or 'CUSTOMER:' line found", raw)
    else:
        meta = {"created_at": headers.get("date") or None, "agent_name": headers.get("agent") or None}
        result.add(1, headers["call-id"], turns, meta, raw)
    return result


def _parse_header(lines: list[str]) -> tuple[dict[str, str], int]:
    """`Key: value` lines up to the first blank line or the first speaker line."""
    headers: dict[str, str] = {}
    for index, line in enumerate(lines):
        if not line.strip():
            if headers:
                return headers, index + 1
            continue
        if _is_turn(line):
            return headers, index
        match = HEADER.match(line)
        if not match:
            return headers, index
        headers[match["key"].strip().lower()] = match["value"].strip()
    return headers, len(lines)


def _is_turn(line: str) -> bool:
    # "Agent: Dana" is a header, "AGENT: hi" or "[00:00:03] Agent: hi" a turn.
    match = TURN.match(line.strip())
    if not match or match["speaker"].lower() not in SPEAKERS:
        return False
    return bool(match["ts"]) or match["speaker"].isupper()


def _parse_turns(lines: list[str]) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for line in lines:
        if not line.strip():
            continue
        match = TURN.match(line.strip())
        role = SPEAKERS.get(match["speaker"].lower()) if match else None
        if role is not None:
            turns.append({"role": role, "text": match["text"].strip()})
        elif turns:
            turns[-1]["text"] = f"{turns[-1]['text']} {line.strip()}".strip()
    return turns
