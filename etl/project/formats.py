"""How `etl init` reads one export's shape: a CSV's header and first rows, a JSON Lines file's
objects (a chat log of one message a line, or of one conversation a line), and the values it
guesses a mapping from (date formats, rating scales, roles), with the export column names
it recognises."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from etl.config import CHAT_FIELDS, REVIEW_FIELDS
from etl.stages.ingest.chats import KNOWN_ROLES
from etl.stages.ingest.common import parse_json

ROWS_LOOKED_AT = 200


# header names (lower case, letters and digits only) that mean each of our fields, best first
REVIEW_NAMES = {
    "review_id": ["reviewid", "id", "reviewnumber", "ref", "reference"],
    "created_at": [
        "createdat",
        "date",
        "created",
        "reviewdate",
        "submittedat",
        "submitted",
        "timestamp",
        "datetime",
        "time",
        "posted",
    ],
    "customer_name": ["customername", "name", "reviewer", "reviewername", "author", "customer", "username"],
    "customer_email": ["customeremail", "email", "emailaddress", "mail"],
    "rating": ["rating", "stars", "starrating", "score", "rate", "grade"],
    "item": ["item", "product", "productname", "dish", "meal", "menuitem"],
    "store": ["store", "location", "branch", "shop", "restaurant", "site"],
    "text": [
        "text",
        "comment",
        "comments",
        "review",
        "reviewtext",
        "body",
        "content",
        "feedback",
        "message",
        "description",
    ],
}


CHAT_ROW_NAMES = {
    "conversation_id": [
        "conversationid",
        "conversation",
        "ticketid",
        "ticket",
        "threadid",
        "thread",
        "chatid",
        "sessionid",
        "session",
        "chat",
    ],
    "role": ["role", "author", "authortype", "sender", "speaker", "from", "party", "direction"],
    "text": ["text", "body", "message", "content", "msg"],
    "ts": ["ts", "timestamp", "sentat", "sent", "time", "datetime", "createdat", "date"],
    "customer_name": ["customername", "name"],
    "customer_email": ["customeremail", "email"],
    "customer_phone": ["customerphone", "phone"],
}


MESSAGE_TEXT_KEYS = ["text", "content", "body", "message"]


MESSAGE_ROLE_KEYS = ["role", "author", "sender", "speaker", "from"]


MESSAGE_TIME_KEYS = ["ts", "timestamp", "time", "sent_at", "created_at"]


FAQ_NAMES = ({"question", "q"}, {"answer", "a"})


DATE_FORMATS = [
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%y", "%m/%d/%y", "%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y",
]  # fmt: skip


# ratings written as words: the thumbs and yes/no of a feedback widget
RATING_WORDS = {
    "thumbsup": 5, "up": 5, "positive": 5, "like": 5, "liked": 5, "yes": 5, "good": 4, "great": 5, "excellent": 5,
    "thumbsdown": 1, "down": 1, "negative": 1, "dislike": 1, "disliked": 1, "no": 1, "bad": 2, "poor": 2, "terrible": 1,
    "neutral": 3, "ok": 3, "okay": 3, "average": 3,
}  # fmt: skip


@dataclass
class Guess:
    """What init made of one file: its kind (None: not placed), the entry for sources.<kind>,
    and a note per key it is not sure of."""

    file: str
    kind: str | None
    entry: dict = field(default_factory=dict)
    unsure: dict[str, str] = field(default_factory=dict)
    why: str = ""


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_csv(text: str, name: str) -> Guess:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    rows = [r for _, r in zip(range(ROWS_LOOKED_AT), reader) if len(r) == len(header)]
    names = {norm(h): h for h in header}
    if any(n in names for n in FAQ_NAMES[0]) and any(n in names for n in FAQ_NAMES[1]):
        return Guess(name, "faqs", {"path": name}, why="question and answer columns")
    columns = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    chat = _match(names, CHAT_ROW_NAMES)
    if "conversation_id" in chat and "role" in chat:
        return _chat_rows(name, chat, columns)
    return _reviews(name, _match(names, REVIEW_NAMES), columns)


def _match(names: dict[str, str], wanted: dict[str, list[str]]) -> dict[str, str]:
    """Our field -> the export's column, each column used once, best-named first."""
    found, used = {}, set()
    for our, candidates in wanted.items():
        column = next((names[c] for c in candidates if c in names and names[c] not in used), None)
        if column is not None:
            found[our] = column
            used.add(column)
    return found


def _reviews(name: str, found: dict[str, str], columns: dict[str, list[str]]) -> Guess:
    guess = Guess(name, "reviews", {"path": name}, why="a CSV with a text column")
    if "text" not in found:
        free = [h for h in columns if h not in found.values()]
        longest = max(free, key=lambda h: _mean_length(columns[h]), default=None)
        if longest is None:
            return Guess(name, None, why="a CSV with no column that could hold the review text")
        found["text"] = longest
        guess.unsure["columns.text"] = "no column is named like a review text: this one has the longest values"
    mapped = {our: column for our, column in found.items() if column.strip().lower() != our}
    if set(found) != set(REVIEW_FIELDS) or mapped:
        guess.entry["columns"] = {our: found[our] for our in REVIEW_FIELDS if our in found}
    if "created_at" in found:
        _date_format(guess, columns[found["created_at"]], "date_format")
    if "rating" in found:
        _rating(guess, columns[found["rating"]])
    return guess


def _chat_rows(name: str, found: dict[str, str], columns: dict[str, list[str]]) -> Guess:
    guess = Guess(name, "chats", {"path": name, "layout": "rows"}, why="one message a row, grouped by conversation")
    if "text" not in found:
        free = [h for h in columns if h not in found.values()]
        found["text"] = max(free, key=lambda h: _mean_length(columns[h]))
        guess.unsure["columns.text"] = "no column is named like a message: this one has the longest values"
    guess.entry["columns"] = {our: found[our] for our in CHAT_FIELDS if our in found}
    if "ts" in found:
        _date_format(guess, columns[found["ts"]], "date_format")
    _roles(guess, columns[found["role"]])
    return guess


def guess_jsonl(text: str, name: str) -> Guess:
    objects = []
    for line in text.splitlines()[: ROWS_LOOKED_AT * 2]:
        obj, problem = parse_json(line)
        if problem:
            continue
        if isinstance(obj, dict):
            objects.append(obj)
    if not objects:
        return Guess(name, None, why="no line is a JSON object")
    path = _messages_path(objects[0])
    if path is None:
        names = {norm(k): k for k in objects[0]}
        found = _match(names, CHAT_ROW_NAMES)
        if {"conversation_id", "role", "text"} <= set(found):
            columns = {k: [o.get(k) for o in objects] for k in objects[0]}
            return _chat_rows(name, found, columns)
        return Guess(name, None, why="JSON objects with no list of messages and no conversation and role keys")
    return _conversations(name, path, objects)


def _messages_path(obj: dict, prefix: str = "") -> str | None:
    """The dotted path of the first list of message-like objects, at the top or one level down."""
    for key, value in obj.items():
        if isinstance(value, list) and value and all(isinstance(m, dict) for m in value[:5]):
            if any(k in value[0] for k in MESSAGE_TEXT_KEYS):
                return prefix + key
    if not prefix:
        for key, value in obj.items():
            if isinstance(value, dict) and (found := _messages_path(value, f"{key}.")):
                return found
    return None


def _conversations(name: str, path: str, objects: list[dict]) -> Guess:
    guess = Guess(name, "chats", {"path": name}, why="a conversation a line")
    messages = [m for o in objects for m in (_at(o, path) or []) if isinstance(m, dict)]
    keys = Counter(k for m in messages for k in m)
    columns = {}
    if path != "messages":
        columns["messages"] = path
    for our, candidates in (("text", MESSAGE_TEXT_KEYS), ("role", MESSAGE_ROLE_KEYS), ("ts", MESSAGE_TIME_KEYS)):
        key = next((c for c in candidates if keys[c]), None)
        if key is not None and key != our and not (our == "text" and key == "content"):
            columns[our] = key
    top = {norm(k): k for o in objects[:20] for k in o}
    conversation = _match(top, {"conversation_id": CHAT_ROW_NAMES["conversation_id"] + ["id"]})
    if (
        conversation
        and conversation["conversation_id"] != "conversation_id"
        and conversation["conversation_id"] != "id"
    ):
        columns["conversation_id"] = conversation["conversation_id"]
    if not conversation:
        guess.unsure["conversation_id"] = "no conversation id: each conversation is known by its line number"
    if columns:
        guess.entry["columns"] = columns
    role_key = columns.get("role", "role")
    _roles(guess, [m.get(role_key) for m in messages])
    return guess


def _at(obj: dict, path: str):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _date_format(guess: Guess, values: list, key: str) -> None:
    """No date_format when the dates are ISO 8601; else the one format all the first rows fit,
    and an UNSURE note when day-first and month-first both fit."""
    sample = [str(v).strip() for v in values if v not in (None, "") and str(v).strip()][:ROWS_LOOKED_AT]
    if not sample or all(_is_iso(v) for v in sample):
        return
    fitting = [f for f in DATE_FORMATS if all(_fits(v, f) for v in sample)]
    if not fitting:
        guess.unsure[key] = "the dates fit no format init knows: write theirs in strftime codes (%d/%m/%Y)"
        guess.entry[key] = "%d/%m/%Y"
        return
    guess.entry[key] = fitting[0]
    if len(fitting) > 1:
        guess.unsure[key] = f"the first rows fit {' and '.join(fitting[:2])} alike (no day above 12): check which"


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _fits(value: str, date_format: str) -> bool:
    try:
        datetime.strptime(value, date_format)
    except ValueError:
        return False
    return True


def _rating(guess: Guess, values: list[str]) -> None:
    """Numbers: the scale from the largest seen; words: a value mapping (UNSURE where guessed)."""
    seen = [v.strip() for v in values if v and v.strip()]
    numbers = [float(v) for v in seen if re.fullmatch(r"\d+(?:\.\d+)?", v)]
    words = sorted({v for v in seen if not re.fullmatch(r"\d+(?:\.\d+)?", v)})
    if numbers and max(numbers) > 5:
        guess.entry["rating_scale"] = 10 if max(numbers) <= 10 else 100
        if max(numbers) <= 6:
            guess.unsure["rating_scale"] = "the largest rating seen is 6: a 10-point scale is a guess"
    if words and len(words) <= 12 and all(len(w) <= 20 for w in words):
        mapping = {w: RATING_WORDS.get(norm(w), 3) for w in words}
        guess.entry["values"] = {"rating": mapping}
        if any(norm(w) not in RATING_WORDS for w in words):
            guess.unsure["values"] = "some rating words are not ones init knows: they read as 3 (neutral)"
    elif words:
        guess.unsure["rating"] = f"{len(words)} different non-numeric ratings: map them under values.rating"


def _roles(guess: Guess, values: list) -> None:
    """Roles init does not know become an UNSURE mapping to customer."""
    seen = sorted({str(v).strip() for v in values if v not in (None, "")})
    unknown = [r for r in seen if r.casefold() not in KNOWN_ROLES and len(r) <= 20][:12]
    if unknown:
        guess.entry["values"] = {"role": dict.fromkeys(unknown, "customer")}
        guess.unsure["values"] = "roles init does not know read as customer: set each to customer, bot or agent"


def _mean_length(values: list) -> float:
    texts = [str(v) for v in values if v not in (None, "")]
    return sum(map(len, texts)) / len(texts) if texts else 0.0
