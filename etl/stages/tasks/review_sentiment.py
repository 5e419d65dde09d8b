"""review_sentiment: a review's text to a sentiment label, scorable with accuracy and F1.

The label comes from the star rating the customer gave, by a fixed rule:

    rating 4 or 5 -> positive
    rating 3      -> neutral
    rating 1 or 2 -> negative
"""

from __future__ import annotations

from etl.example import SENTIMENT_LABELS
from etl.stages.tasks.common import BuildContext, example

TASK = "review_sentiment"
LABELS = SENTIMENT_LABELS
INSTRUCTION = (
    "Classify the sentiment of this customer review as positive, neutral or negative. "
    "Answer with one word.\n\nReview: {text}"
)


def label_for(rating: int) -> str:
    return "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"


def build(records: list[dict], ctx: BuildContext) -> list[dict]:
    examples = []
    for record in records:
        rating = record["meta"]["rating"]
        if record["source"] != "review" or rating is None:
            continue
        label = label_for(rating)
        text = record["turns"][0]["text"]
        examples.append(
            example(
                ctx,
                TASK,
                record,
                "sentiment",
                [("user", INSTRUCTION.format(text=text)), ("assistant", label)],
                label=label,
            )
        )
    return examples
