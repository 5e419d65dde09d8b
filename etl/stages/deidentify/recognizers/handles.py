"""Social handles and profile links that carry a person's name."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

# A person's page on a social network: the path after the site is their name or handle
# ("linkedin.com/in/ophelia-vantassel-4412"); a company page ("/company/...") is not matched
PROFILE_SITES = (
    r"linkedin\.com/in|facebook\.com|fb\.com|instagram\.com|twitter\.com|x\.com|tiktok\.com|github\.com"
    r"|youtube\.com|threads\.net|pinterest\.com|medium\.com|reddit\.com/u(?:ser)?"
)
PROFILE_URL = (
    r"(?<![\w@.])(?:https?://)?(?:www\.|[a-z]{2}\.)?(?:" + PROFILE_SITES + r")/@?"
    r"(?!(?:company|pages|groups|events|hashtag|watch|p|reel|explore|share|sharer|home|search)\b)"
    r"[A-Za-z0-9_.%-]{2,80}/?(?![\w/])"
)


class SocialHandleRecognizer(PatternRecognizer):
    """@usernames ("@jenny_smith91 my order never came"), not the @ of an e-mail address, and
    links to a person's profile, which carry their name."""

    def __init__(self) -> None:
        handle = Pattern(
            "social handle", r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])", 0.85
        )
        profile = Pattern("profile link", PROFILE_URL, 0.85)
        super().__init__(
            supported_entity="SOCIAL_HANDLE",
            patterns=[handle, profile],
            name="SocialHandleRecognizer",
            global_regex_flags=re.IGNORECASE,
        )
