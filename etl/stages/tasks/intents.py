"""What a customer's conversation is about, from the customer's own turns.

Rules with positive and negative evidence rather than one keyword: "what is the address of
the restaurant" names no order of the customer's, so it is about the business, not an order;
"can I get a mocha for Jean" names no "order" and is one. Tested on real ordering dialogs
(tests/data/realtext) and on the sample corpus.

- order: the customer places an order (asks for items: "can I get", "I'd like a", "I'll
  have") or deals with one (their order, delivery, refund, cancellation, a charge, a missing
  or wrong item, order numbers);
- store_info: where the business is, when it opens, how to reach it (negative evidence for
  an order: "address of the restaurant", "where are you located");
- anything else the business answers is general customer service.
"""

from __future__ import annotations

import re

PLACES_AN_ORDER = re.compile(
    r"\b(?:can|could|may|might) (?:i|we) (?:please |just |also )?(?:get|have|order|grab|try|add)\b"
    r"|\bi(?:'d| would|d) (?:like|love) (?:a|an|the|one|two|three|four|\d|some|to order|to get|to have|to try|to add)\b"
    r"|\b(?:i|we) (?:want|need|'ll have|'ll take|will have|will take|'ll get|will get|'ll do|will do) (?:a|an|the|one|two|three|four|\d|some)\b"
    r"|\b(?:i|we)(?:'ll| will) (?:have|take|get|do) (?:a|an|the|one|two|three|\d|some)\b"
    r"|\blet me (?:get|have|order)\b|\bgimme\b|\bgive me (?:a|an|the|one|two|\d)\b"
    r"|\b(?:place|put in|make) (?:an |my |a |the )?order\b|\b(?:to|i) order (?:a|an|the|one|two|\d|some)\b"
    r"|\b(?:can|could|would) you (?:please )?(?:get|make|bring|give|fix|pour) me\b|\bi like (?:a|an|one|two|\d)\b"
    r"|\bto go\b|\bfor here\b"
    # "One latte please", "A macchiato to go": a number of something, asked for
    r"|(?:^|[.!?,]\s*)(?:one|two|three|four|a|an|\d)\s+[^.?!\n]{2,40}?\bplease\b",
    re.IGNORECASE | re.MULTILINE,
)
HANDLES_AN_ORDER = re.compile(
    r"\b(?:my|our|the|this|that|an|last|previous|today's|recent) (?:\w+ )?(?:order|delivery|package|bag|meals?|box)\b"
    r"|\border (?:number|status|#|id)\b|\bHB-\d|\brefund|\bcancel|\bcharged\b|\bdouble[- ]charged|\bmissing\b"
    r"|\bwrong (?:item|order|meal|dish|address)\b|\bnever (?:came|arrived|showed)|\b(?:late|cold|damaged|spilled)\b"
    r"|\bdeliver(?:ed|y)? (?:was|is|never|late|hasn't|didn't|to my)|\bsubscription\b|\bpause\b|\bskip (?:a|this|next) week"
    r"|\b(?:reward|loyalty) points\b|\bpromo code\b|\bcoupon\b",
    re.IGNORECASE,
)
ASKS_ABOUT_THE_BUSINESS = re.compile(
    r"\baddress of (?:the|your) (?:restaurant|store|shop|location|place|cafe|kitchen)\b"
    r"|\bwhere (?:are you|is (?:the|your) (?:store|restaurant|shop|location)|can i find you)\b"
    r"|\b(?:what time|when) (?:do|does|is|are|will) [^?.!\n]{0,30}?\b(?:open|opens|close|closes|closing|opening)\b"
    r"|\b(?:opening|store|business|your|the) hours\b|\bare you open\b|\bparking\b|\bdirections\b",
    re.IGNORECASE,
)


def conversation_intent(customer_turns: list[str]) -> str:
    """'order', 'store_info' or 'service' for a conversation, from the customer's turns."""
    text = "\n".join(customer_turns).replace("\u2019", "'")
    places = PLACES_AN_ORDER.search(text) is not None
    handles = HANDLES_AN_ORDER.search(text) is not None
    if handles or (places and _asks_for_items(text)):
        return "order"
    if ASKS_ABOUT_THE_BUSINESS.search(text):
        return "store_info"
    return "service"


def _asks_for_items(text: str) -> bool:
    """A request for items, not for information ("can I get the address of the restaurant")."""
    return any(not ABOUT_INFORMATION.match(text, m.end()) for m in PLACES_AN_ORDER.finditer(text))


ABOUT_INFORMATION = re.compile(
    r"[^.?!\n]{0,20}?\b(?:address|hours|directions|location|phone number|number for|menu|website)\b", re.IGNORECASE
)
