"""Where the inputs are and how each export's columns map to the canonical record's fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from etl.config.common import Strict

# What a reader fills for each record, and the export's own name for it when it differs.
REVIEW_FIELDS = ("review_id", "created_at", "customer_name", "customer_email", "rating", "item", "store", "text")
CHAT_FIELDS = (
    "conversation_id",
    "started_at",
    "customer_name",
    "customer_email",
    "customer_phone",
    "messages",
    "role",
    "text",
    "ts",
    "feedback_rating",
    "feedback_comment",
    "rated_turn",
)


class ReviewColumns(Strict):
    """Canonical field -> the export's CSV column (only those whose names differ)."""

    # the review's own id (same id seen twice in a file: duplicate_id; lineage)
    review_id: str | None = None
    # when it was written (ISO 8601, or as `date_format` says)
    created_at: str | None = None
    # the reviewer's name: personal data, used only to find it in the text
    customer_name: str | None = None
    # the reviewer's e-mail: personal data, used only to find it in the text
    customer_email: str | None = None
    # the star rating (1..5, or `rating_scale`, or words through `values.rating`)
    rating: str | None = None
    # the dish or product reviewed
    item: str | None = None
    # the store it was bought at
    store: str | None = None
    # the review's text (the one column a reviews export must have)
    text: str | None = None


class ChatColumns(Strict):
    """Canonical field -> the export's key: a dotted JSON path ("customer.email", "thread.posts")
    in a conversation a line, or a column in a one-message-a-row file. role, text and ts are
    read inside each message."""

    # the conversation's id (a one-message-a-row file groups by it)
    conversation_id: str | None = None
    # when the conversation started (ISO 8601, or as `date_format` says)
    started_at: str | None = None
    # the customer's name: personal data, used only to find it in the text
    customer_name: str | None = None
    # the customer's e-mail: personal data, used only to find it in the text
    customer_email: str | None = None
    # the customer's phone: personal data, used only to find it in the text
    customer_phone: str | None = None
    # the list of messages in a conversation a line
    messages: str | None = None
    # a message's speaker (customer, bot or agent, through `values.role`)
    role: str | None = None
    # a message's text
    text: str | None = None
    # a message's time
    ts: str | None = None
    # the customer's thumbs up or down on the bot (through `values.feedback_rating`)
    feedback_rating: str | None = None
    # the customer's comment on that rating
    feedback_comment: str | None = None
    # a reward file rates one answer, not the conversation: the judged message (after `messages`,
    # which then hold the turns before it); the rating is that answer's alone
    rated_turn: str | None = None


class ReviewValues(Strict):
    # the export's rating -> 1..5 ("thumbs_up": 5, "Excellent": 5); numbers not listed are read as numbers
    rating: dict[str, int] = Field(default_factory=dict)


class ChatValues(Strict):
    # the export's role -> customer, bot or agent ("requester": customer); system: the message is skipped
    role: dict[str, Literal["customer", "bot", "agent", "system"]] = Field(default_factory=dict)
    # the export's feedback -> up or down ("5": up, "thumbs_down": down)
    feedback_rating: dict[str, Literal["up", "down"]] = Field(default_factory=dict)


class FileSource(Strict):
    # a path or glob, relative to the config file
    path: str


class ReviewSource(FileSource):
    columns: ReviewColumns = Field(default_factory=ReviewColumns)
    # how created_at is written when it is not ISO 8601, in strftime codes ("%m/%d/%Y")
    date_format: str | None = None
    # the export's values that are not ours, per field
    values: ReviewValues = Field(default_factory=ReviewValues)
    # the top of the export's rating scale: 10 reads 1..10 as 1..5 (two points a star)
    rating_scale: int = Field(5, ge=2, le=100)


class ChatSource(FileSource):
    columns: ChatColumns = Field(default_factory=ChatColumns)
    # conversations: one JSON object a line with a list of messages (the sample's shape, or an
    # OpenAI-style `messages` of {role, content}); rows: one message a row (CSV or JSONL), grouped
    # into conversations by conversation_id in file order; null: rows for a CSV, else conversations
    layout: Literal["conversations", "rows"] | None = None
    # how started_at and ts are written when they are not ISO 8601, in strftime codes
    date_format: str | None = None
    # the export's values that are not ours, per field
    values: ChatValues = Field(default_factory=ChatValues)
    # leave out messages with no text (a tool call, its result) instead of rejecting the conversation
    skip_messages_without_text: bool = False


class Sources(Strict):
    """Each entry is a path or a glob relative to the config file, or an object with `path:`
    and how the export's columns and values map onto ours (reviews and chats), or a list of
    these when one kind comes in exports of several shapes."""

    # reviews exports (CSV): review_id, created_at, customer_name, customer_email, rating, item, store, text
    reviews: list[ReviewSource] | None = None
    # chat logs (JSONL of conversations, or one message a row in CSV or JSONL)
    chats: list[ChatSource] | None = None
    # FAQs: Markdown ("### question" then answer paragraphs) or a CSV of question, answer, category
    faqs: list[FileSource] | None = None
    # call transcripts, one a file: a Call-ID/Date/Agent header, then "[hh:mm:ss] AGENT: ..." lines
    calls: list[FileSource] | None = None

    @field_validator("reviews", "chats", "faqs", "calls", mode="before")
    @classmethod
    def _entries(cls, value: Any) -> Any:
        """A bare path is `{path: ...}`; one entry is a list of one (one shape to validate, so an
        error names the key, not each way the value could have been written)."""
        if value is None:
            return None
        entries = value if isinstance(value, list) else [value]
        return [{"path": e} if isinstance(e, str) else e for e in entries]

    def specs(self, kind: str) -> list[tuple[str, FileSource]]:
        """(config key, source) for each entry of a kind; the key says where it sits in the YAML
        ("reviews", or "reviews.1" in a list of several)."""
        entries = getattr(self, kind) or []
        return [(kind if len(entries) == 1 else f"{kind}.{i}", spec) for i, spec in enumerate(entries)]


class CatalogFiles(Strict):
    # the menu YAML: dishes with description, ingredients, diet tags, allergens, calories,
    # protein, price (required to build examples)
    menu: str | None = None
    # the stores YAML: locations, hours and phones (business data, never replaced)
    stores: str | None = None
