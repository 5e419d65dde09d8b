"""Clean: text normalisation, then junk, length and language filters.

Normalisation works on every turn (vectorised in polars; the two steps that
need a real parser, mojibake repair with ftfy and HTML stripping with
selectolax, only run on the turns that can need them). Filters then judge a
whole record on figures computed first (`compute_stats`), so a report can say
why a row was dropped (data-juicer's separation of stats from decisions).

Reasons, in the order they are checked (the first that applies is recorded):

    empty               no text left after normalisation
    too_short           fewer than clean.min_words words
    too_long            more than clean.max_chars characters
    prompt_injection    a turn holds an instruction aimed at a model (clean.injection_patterns:
                        "ignore previous instructions", "print your system prompt", ...)
    unsafe_link         a javascript:, vbscript: or data: link (clean.unsafe_link_pattern)
    junk_symbols        share of symbol characters above clean.max_symbol_ratio
    junk_repetition     one character repeated clean.max_char_run times or more (after
                        runs over clean.collapse_runs_over are collapsed: only digits remain)
    repetitive_words    most judged words in turns whose unique-word share is below
                        clean.min_unique_word_ratio (judged per turn, never over a dialogue)
    language_not_kept   detected language not in clean.languages, and fewer than
                        clean.language_word_share of the words are words of a kept language

Normalisation also removes transcription markers ("[noise]", "<sil>", a turn that
is only "noise") and collapses runs of one repeated character ("!!!!!!!" -> "!!!").
"""

from __future__ import annotations

import re
from functools import lru_cache

import ftfy
import polars as pl
from selectolax.lexbor import LexborHTMLParser

from etl.config import CleanConfig
from etl.records import record_text
from etl.stages.base import Filter, Progress, Rule
from etl.text.langid import detect_languages, preload

# A tag (<p>, </b>, <br/>, <!-- -->) or an entity (&amp; &#39;): worth an HTML parse.
HTML_HINT = r"<[A-Za-z/!][^>]*>|&(?:[A-Za-z]{2,8}|#\d{2,5}|#x[0-9A-Fa-f]{2,4});"
NON_ASCII = r"[^\x00-\x7F]"
INVISIBLE = r"[\u200B-\u200F\u2060\uFEFF\u00AD]"
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
# Anything but letters, digits, whitespace and emoji (emoji carry sentiment: not junk): punctuation, symbols.
SYMBOL = r"[^\p{L}\p{N}\s\p{Extended_Pictographic}\x{FE0F}\x{200D}]"
BLOCK_TAG = re.compile(r"(?i)<\s*(?:br|/p|/div|/li|/tr|/td|/h[1-6])\s*/?\s*>")
# lingua's ISO codes that wordfreq names otherwise
WORDFREQ_CODES = {"tl": "fil"}
BATCH = 20_000


class CleanStage(Filter):
    name = "clean"
    per_record = True

    def __init__(self, config: CleanConfig) -> None:
        self.config = config

    def prepare(self, incoming: int) -> None:
        """The language detector's models loaded on a thread as the run begins, when it reads new files."""
        if incoming:
            preload(candidate_languages(self.config))

    def transform(self, frame: pl.DataFrame, progress: Progress) -> pl.DataFrame:
        """Every turn normalised; turns left empty removed (counted per record in `empty_turns`)."""
        turns = explode_turns(frame)
        turns = (
            pl.concat(
                [normalise_texts(turns.slice(start, BATCH), self.config) for start in range(0, turns.height, BATCH)]
            )
            if turns.height
            else turns
        )
        empty = turns.filter(pl.col("text").str.len_chars() == 0).group_by("record_id").len("empty_turns")
        kept = turns.filter(pl.col("text").str.len_chars() > 0)
        records = renumber_turn_meta(regroup_turns(frame, kept), kept)
        progress(frame.height // 2)
        return records.join(empty, on="record_id", how="left", maintain_order="left").with_columns(
            pl.col("empty_turns").fill_null(0)
        )

    def compute_stats(self, rows: pl.DataFrame) -> pl.DataFrame:
        return compute_stats(rows, self.config).with_columns(rows["empty_turns"].cast(pl.Int64))

    def rules(self) -> list[Rule]:
        return rules(self.config)

    def counts(self, stats: pl.DataFrame) -> dict[str, int]:
        return {"empty_turns_removed": int(stats["empty_turns"].sum())}

    def apply(self, frame: pl.DataFrame, progress: Progress):
        result = super().apply(frame, progress)
        progress(frame.height - frame.height // 2)
        return result


def explode_turns(df: pl.DataFrame) -> pl.DataFrame:
    """One row per turn: record_id, turn_no, role, text."""
    return (
        df.select("record_id", "turns")
        .explode("turns")
        .with_columns(pl.int_range(pl.len()).over("record_id").alias("turn_no"))
        .unnest("turns")
        .with_columns(pl.col("text").fill_null(""))
    )


def regroup_turns(df: pl.DataFrame, turns: pl.DataFrame) -> pl.DataFrame:
    """Put cleaned turns back on their records, in order; a record with none left gets an empty list."""
    grouped = (
        turns.sort("record_id", "turn_no")
        .group_by("record_id", maintain_order=True)
        .agg(pl.struct("role", "text").alias("turns"))
    )
    return (
        df.drop("turns")
        .join(grouped, on="record_id", how="left", maintain_order="left")
        .with_columns(pl.col("turns").fill_null(pl.lit([], dtype=df.schema["turns"])))
    )


def renumber_turn_meta(records: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    """`meta.agent_turns` and `meta.judged_turn` name turns by position: once empty turns are
    removed they name the same turns' new positions. A judged turn that was removed becomes -1
    (rated, but nothing left to judge), never null (null: the rating is the conversation's)."""
    meta = records["meta"].struct.unnest()
    if meta["agent_turns"].is_null().all() and meta["judged_turn"].is_null().all():
        return records
    moved = kept.select("record_id", "turn_no").with_columns(pl.int_range(pl.len()).over("record_id").alias("new"))
    agents = (
        records.select("record_id", turn_no=pl.col("meta").struct.field("agent_turns"))
        .explode("turn_no")
        .drop_nulls()
        .join(moved, on=["record_id", "turn_no"], how="inner")
        .group_by("record_id")
        .agg(pl.col("new").sort().cast(pl.Int32).alias("agent_turns"))
    )
    judged = (
        records.select("record_id", turn_no=pl.col("meta").struct.field("judged_turn"))
        .drop_nulls()
        .join(moved, on=["record_id", "turn_no"], how="left")
        .select("record_id", judged_turn=pl.col("new").fill_null(-1).cast(pl.Int32))
    )
    renumbered = (
        records.select("record_id")
        .join(agents, on="record_id", how="left", maintain_order="left")
        .join(judged, on="record_id", how="left", maintain_order="left")
    )
    meta = meta.with_columns(agent_turns=renumbered["agent_turns"], judged_turn=renumbered["judged_turn"])
    return records.with_columns(meta=pl.struct(meta).cast(records.schema["meta"]))


def normalise_texts(turns: pl.DataFrame, config: CleanConfig) -> pl.DataFrame:
    text = turns["text"]
    text = _apply_where(text, text.str.contains(HTML_HINT), strip_html)
    text = _apply_where(text, text.str.contains(NON_ASCII), fix_unicode)
    text = text.str.normalize("NFKC").str.replace_all(INVISIBLE, "").str.replace_all(CONTROL, " ")
    for pattern in config.boilerplate:
        text = text.str.replace_all(pattern, "")
    text = remove_markers(text, config.transcription_markers)
    text = _apply_where(
        text,
        text.str.contains(run_hint(config.collapse_runs_over)),
        lambda t: collapse_runs(t, config.collapse_runs_over),
    )
    text = (
        text.str.replace_all(r"[ \t\u00A0\u2000-\u200A\u3000]+", " ")
        .str.replace_all(r" *\r?\n *", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )
    return turns.with_columns(text.alias("text"))


def remove_markers(text: pl.Series, markers: list[str]) -> pl.Series:
    """Transcription markers out: bracketed anywhere ("[noise]", "<sil>"), bare when they are the whole turn."""
    if not markers:
        return text
    words = "|".join(re.escape(m) for m in markers)
    bracketed = rf"(?i)[\[<{{(]\s*(?:{words})\s*[\]>}})]"
    return text.str.replace_all(bracketed, " ").str.replace(rf"(?i)^\s*(?:{words})\s*[.!]?\s*$", "")


def run_hint(limit: int) -> str:
    """A polars regex for texts that may hold a run to collapse (it has no backreferences:
    any symbols in a row, or one ASCII letter repeated), so Python only sees those."""
    n = limit + 1
    return r"(?i)[^\p{L}\p{N}\s]{%d,}|" % n + "|".join(f"{c}{{{n},}}" for c in "abcdefghijklmnopqrstuvwxyz")


def collapse_runs(text: str, limit: int) -> str:
    """One character repeated more than `limit` times is cut to `limit` ("!!!!!!" -> "!!!"); digits are kept."""
    return _run_pattern(limit).sub(lambda m: m.group(1) * limit, text)


@lru_cache(maxsize=8)
def _run_pattern(limit: int) -> re.Pattern[str]:
    return re.compile(r"([^\d\s])\1{%d,}" % limit)


@lru_cache(maxsize=8)
def _char_run_pattern(threshold: int) -> re.Pattern[str]:
    return re.compile(r"(\S)\1{%d,}" % (threshold - 1))


def _apply_where(text: pl.Series, mask: pl.Series, fix) -> pl.Series:
    """Run a Python-level fix only on the rows that need it."""
    if not mask.any():
        return text
    values = text.to_list()
    for index in mask.arg_true().to_list():
        values[index] = fix(values[index])
    return pl.Series(text.name, values, dtype=pl.Utf8)


# Elements whose content a reader never sees: a pasted `<script>alert(1)</script>` must not
# leave `alert(1)` in the training text.
INVISIBLE_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title"]


def strip_html(text: str) -> str:
    # Block elements become line breaks; inline ones (<b>, <i>) vanish without
    # adding spaces, so "<b>Bowl</b>!" stays "Bowl!"; entities are decoded; what a
    # browser would not show (script, style) goes with its tags.
    text = BLOCK_TAG.sub("\n", text)
    tree = LexborHTMLParser(f"<body>{text}</body>")
    tree.strip_tags(INVISIBLE_TAGS)
    return tree.body.text(separator="", deep=True)


def fix_unicode(text: str) -> str:
    return ftfy.fix_text(text, unescape_html=False)


def compute_stats(records: pl.DataFrame, config: CleanConfig) -> pl.DataFrame:
    """Per-record figures the filters judge; kept next to the stage output for reports."""
    text = record_text(records)
    frame = pl.DataFrame({"record_id": records["record_id"], "text": text})
    stats = frame.select(
        "record_id",
        pl.col("text").str.len_chars().alias("n_chars"),
        pl.col("text").str.count_matches(r"\S+").alias("n_words"),
        pl.col("text").str.count_matches(SYMBOL).alias("n_symbols"),
        pl.col("text").str.count_matches(r"\S").alias("n_visible"),
        pl.col("text").str.to_lowercase().str.extract_all(r"\w+").list.n_unique().alias("n_unique_words"),
        pl.col("text").str.count_matches(r"\w+").alias("n_word_tokens"),
        first_match(pl.col("text"), config.injection_patterns).alias("injection"),
        pl.col("text").str.contains("(?i)" + config.unsafe_link_pattern).alias("unsafe_link"),
    ).with_columns(
        (pl.col("n_symbols") / pl.col("n_visible").clip(lower_bound=1)).alias("symbol_ratio"),
        (pl.col("n_unique_words") / pl.col("n_word_tokens").clip(lower_bound=1)).alias("unique_word_ratio"),
        pl.Series("max_char_run", longest_char_runs(frame["text"].to_list(), config.max_char_run), dtype=pl.Int32),
    )
    turns = explode_turns(records)  # once, for both per-turn figures below
    stats = stats.join(turn_repetition(turns, config), on="record_id", how="left", maintain_order="left")
    languages = pl.Series("language", _languages(frame["text"], stats["n_words"], config), dtype=pl.Utf8)
    # the customer's own words decide (a business replies in its language whatever the customer writes)
    shares = kept_language_word_shares(customer_text(records, turns, frame["text"]), languages, config.languages)
    return stats.with_columns(languages, shares)


def first_match(text: pl.Expr, patterns: list[str]) -> pl.Expr:
    """The number (from 1) of the first pattern the text matches, case-insensitively; null for none."""
    found = pl.lit(None, dtype=pl.Int32)
    for number, pattern in reversed(list(enumerate(patterns, start=1))):
        found = pl.when(text.str.contains("(?i)" + pattern)).then(pl.lit(number, dtype=pl.Int32)).otherwise(found)
    return found


def customer_text(records: pl.DataFrame, turns: pl.DataFrame, whole: pl.Series) -> pl.Series:
    """The user turns of each record joined, or the whole text where a record has none."""
    user = (
        turns.filter(pl.col("role") == "user")
        .group_by("record_id", maintain_order=True)
        .agg(pl.col("text").str.join("\n"))
    )
    joined = records.select("record_id").join(user, on="record_id", how="left", maintain_order="left")["text"]
    return joined.fill_null(whole)


def turn_repetition(turns: pl.DataFrame, config: CleanConfig) -> pl.DataFrame:
    """Share of a record's judged words that sit in repetitive turns. Judged per turn: a long
    call repeats its words over the whole dialogue without any turn being junk."""
    turns = turns.select(
        "record_id",
        pl.col("text").str.count_matches(r"\w+").alias("words"),
        pl.col("text").str.to_lowercase().str.extract_all(r"\w+").list.n_unique().alias("unique"),
    )
    judged = pl.col("words") >= config.unique_word_min_words
    repetitive = judged & (pl.col("unique") / pl.col("words").clip(lower_bound=1) < config.min_unique_word_ratio)
    return turns.group_by("record_id").agg(
        (pl.col("words").filter(repetitive).sum() / pl.col("words").filter(judged).sum().clip(lower_bound=1)).alias(
            "repetitive_share"
        )
    )


def kept_language_word_shares(text: pl.Series, languages: pl.Series, kept: list[str]) -> pl.Series:
    """For records detected as a language not kept: the share of their words that are at least
    as common in a kept language as in the detected one (wordfreq). Short, shouted or misspelt
    English the detector misreads scores high; real Spanish or German scores low. Null elsewhere."""
    from wordfreq import zipf_frequency

    def frequency(word: str, language: str) -> float:
        try:
            return zipf_frequency(word, WORDFREQ_CODES.get(language, language))
        except LookupError:  # a language wordfreq has no list for
            return 0.0

    def share(value: str, detected: str) -> float:
        words = re.findall(r"[^\W\d_]{2,}", value.lower())
        own = [max(frequency(w, k) for k in kept) for w in words]
        return sum(o > 0 and o >= frequency(w, detected) for w, o in zip(words, own)) / max(len(words), 1)

    values = [
        share(value, detected) if detected is not None and detected not in kept else None
        for value, detected in zip(text.to_list(), languages.to_list())
    ]
    return pl.Series("kept_language_word_share", values, dtype=pl.Float64)


def longest_char_runs(texts: list[str], threshold: int) -> list[int]:
    """Length of a repeated-character run reaching `threshold`, else 0 (polars' regex has no backreferences)."""
    pattern = _char_run_pattern(threshold)
    runs = []
    for text in texts:
        match = pattern.search(text)
        runs.append(len(match.group(0)) if match else 0)
    return runs


def candidate_languages(config: CleanConfig) -> list[str]:
    return sorted(set(config.candidate_languages) | set(config.languages))


def _languages(text: pl.Series, n_words: pl.Series, config: CleanConfig) -> list[str | None]:
    """Detected language of records long enough to tell; None for the rest."""
    eligible = (n_words >= config.language_min_words).to_list()
    sample = [t[:500] for t, ok in zip(text.to_list(), eligible) if ok]
    detected = iter(detect_languages(sample, candidate_languages(config))) if sample else iter(())
    return [next(detected) if ok else None for ok in eligible]


def rules(config: CleanConfig) -> list[Rule]:
    """The filters, in the order they are checked (the module docstring explains each)."""
    return [
        Rule(pl.col("n_chars") == 0, "empty", pl.lit("chars=0")),
        Rule(pl.col("n_words") < config.min_words, "too_short", pl.format("words={}", "n_words")),
        Rule(pl.col("n_chars") > config.max_chars, "too_long", pl.format("chars={}", "n_chars")),
        Rule(
            pl.col("injection").is_not_null(),
            "prompt_injection",
            pl.format("clean.injection_patterns[{}]", pl.col("injection") - 1),
        ),
        Rule(pl.col("unsafe_link"), "unsafe_link", pl.lit("clean.unsafe_link_pattern")),
        Rule(
            pl.col("symbol_ratio") > config.max_symbol_ratio,
            "junk_symbols",
            pl.format("symbol_ratio={}", pl.col("symbol_ratio").round(2)),
        ),
        Rule(pl.col("max_char_run") > 0, "junk_repetition", pl.format("char_run={}", "max_char_run")),
        Rule(
            pl.col("repetitive_share") > 0.5,
            "repetitive_words",
            pl.format("repetitive_share={}", pl.col("repetitive_share").round(2)),
        ),
        Rule(
            pl.col("language").is_not_null()
            & ~pl.col("language").is_in(config.languages)
            & (pl.col("kept_language_word_share") < config.language_word_share),
            "language_not_kept",
            pl.format("detected={} kept_language_words={}", "language", pl.col("kept_language_word_share").round(2)),
        ),
    ]
