"""Website chat logs: one JSON object a line (JSON Lines).

Each line is parsed on its own, so a broken line is quarantined with its line
number and the rest of the file is kept. The shape of a conversation is checked
with a pydantic model, which names the offending field (`messages.3.role`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from etl.stages.ingest.common import EMPTY_FIX, ReadResult, decode_file, describe_validation_error

# customer -> user; both the website bot and a human agent speak for the business.
ROLE_MAP = {"customer": "user", "bot": "assistant", "agent": "assistant"}


class Customer(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class Message(BaseModel):
    role: Literal["customer", "bot", "agent"]
    text: str
    ts: datetime | None = None


class Feedback(BaseModel):
    rating: Literal["up", "down"] | None = None
    comment: str | None = None


class ChatLog(BaseModel):
    conversation_id: str = Field(min_length=1)
    started_at: datetime
    customer: Customer = Field(default_factory=Customer)
    messages: list[Message] = Field(min_length=1)
    feedback: Feedback | None = None


def read_chats(path: Path, source_file: str) -> ReadResult:
    decoded = decode_file(path)
    result = ReadResult("chat", source_file, decoded.encoding, decoded.had_bom)
    for number, line in enumerate(decoded.text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.reject(number, "invalid_json", f"{exc.msg} at column {exc.colno}", line)
            continue
        try:
            chat = ChatLog.model_validate(obj)
        except ValidationError as exc:
            result.reject(number, "invalid_schema", describe_validation_error(exc), line)
            continue
        turns = [{"role": ROLE_MAP[m.role], "text": m.text} for m in chat.messages]
        feedback = chat.feedback or Feedback()
        meta = {
            "created_at": chat.started_at.isoformat(),
            "thumbs": feedback.rating,
            "feedback_comment": feedback.comment,
            "customer_name": chat.customer.name,
            "customer_email": chat.customer.email,
            "customer_phone": chat.customer.phone,
        }
        result.add(number, chat.conversation_id, turns, meta, line)
    if result.units == 0:
        result.fail_file("empty_file", "the file holds no conversation (no non-blank line)", EMPTY_FIX, "")
    result.check_some_rows("lines")
    return result
