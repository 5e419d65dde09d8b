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
    junk_symbols        share of symbol characters above clean.max_symbol_ratio
    junk_repetition     one character repeated clean.max_char_run times or more
    repetitive_words    unique-word share below clean.min_unique_word_ratio
    language_not_kept   detected language not in clean.languages
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ftfy
import polars as pl
from selectolax.lexbor import LexborHTMLParser

from etl.config import CleanConfig
from etl.langid import detect_languages
from etl.records import record_text
from etl.stage import Progress, StageResult, drop_frame

# A tag (<p>, </b>, <br/>, <!-- -->) or an entity (&amp; &#39;): worth an HTML parse.
HTML_HINT = r"<[A-Za-z/!][^>]*>|&(?:[A-Za-z]{2,8}|#\d{2,5}|#x[0-9A-Fa-f]{2,4});"
NON_ASCII = r"[^\x00-\x7F]"
INVISIBLE = r"[\u200B-\u200F\u2060\uFEFF\u00AD]"
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
# Anything but letters, digits and whitespace: punctuation, emoji, symbols.
SYMBOL = r"[^\p{L}\p{N}\s]"
BLOCK_TAG = re.compile(r"(?i)<\s*(?:br|/p|/div|/li|/tr|/td|/h[1-6])\s*/?\s*>")
CHAR_RUN_CACHE: dict[int, re.Pattern[str]] = {}
BATCH = 20_000


@dataclass
class CleanStage:
    config: CleanConfig
    name: str = "clean"

    def total_work(self, df: pl.DataFrame) -> int:
        return df.height

    def apply(self, df: pl.DataFrame, progress: Progress) -> StageResult:
        turns = explode_turns(df)
        cleaned = []
        for start in range(0, turns.height, BATCH):
            cleaned.append(normalise_texts(turns.slice(start, BATCH), self.config))
        turns = pl.concat(cleaned) if cleaned else turns
        empty_turns = turns.filter(pl.col("text").str.len_chars() == 0).height
        records = regroup_turns(df, turns.filter(pl.col("text").str.len_chars() > 0))
        progress(df.height // 2)
        stats = compute_stats(records, self.config)
        reasons = decide(stats, self.config)
        progress(df.height - df.height // 2)
        keep = reasons["reason"].is_null()
        dropped = drop_frame(reasons["record_id"].filter(~keep), reasons["reason"].filter(~keep), reasons["detail"].filter(~keep))
        kept = records.filter(keep).select(df.columns)
        return StageResult(kept=kept, dropped=dropped, stats=stats, notes={"empty_turns_removed": empty_turns})


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


def normalise_texts(turns: pl.DataFrame, config: CleanConfig) -> pl.DataFrame:
    text = turns["text"]
    text = _apply_where(text, text.str.contains(HTML_HINT), strip_html)
    text = _apply_where(text, text.str.contains(NON_ASCII), fix_unicode)
    text = (
        text.str.normalize("NFKC")
        .str.replace_all(INVISIBLE, "")
        .str.replace_all(CONTROL, " ")
    )
    for pattern in config.boilerplate:
        text = text.str.replace_all(pattern, "")
    text = (
        text.str.replace_all(r"[ \t\u00A0\u2000-\u200A\u3000]+", " ")
        .str.replace_all(r" *\r?\n *", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )
    return turns.with_columns(text.alias("text"))


def _apply_where(text: pl.Series, mask: pl.Series, fix) -> pl.Series:
    """Run a Python-level fix only on the rows that need it."""
    if not mask.any():
        return text
    values = text.to_list()
    for index in mask.arg_true().to_list():
        values[index] = fix(values[index])
    return pl.Series(text.name, values, dtype=pl.Utf8)


def strip_html(text: str) -> str:
    # Block elements become line breaks; inline ones (<b>, <i>) vanish without
    # adding spaces, so "<b>Bowl</b>!" stays "Bowl!"; entities are decoded.
    text = BLOCK_TAG.sub("\n", text)
    return LexborHTMLParser(f"<body>{text}</body>").body.text(separator="", deep=True)


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
    ).with_columns(
        (pl.col("n_symbols") / pl.col("n_visible").clip(lower_bound=1)).alias("symbol_ratio"),
        (pl.col("n_unique_words") / pl.col("n_word_tokens").clip(lower_bound=1)).alias("unique_word_ratio"),
        pl.Series("max_char_run", longest_char_runs(frame["text"].to_list(), config.max_char_run), dtype=pl.Int32),
    )
    return stats.with_columns(pl.Series("language", _languages(frame["text"], stats["n_words"], config), dtype=pl.Utf8))


def longest_char_runs(texts: list[str], threshold: int) -> list[int]:
    """Length of a repeated-character run reaching `threshold`, else 0 (polars' regex has no backreferences)."""
    pattern = CHAR_RUN_CACHE.setdefault(threshold, re.compile(r"(\S)\1{%d,}" % (threshold - 1)))
    runs = []
    for text in texts:
        match = pattern.search(text)
        runs.append(len(match.group(0)) if match else 0)
    return runs


def _languages(text: pl.Series, n_words: pl.Series, config: CleanConfig) -> list[str | None]:
    """Detected language of records long enough to tell; None for the rest."""
    eligible = (n_words >= config.language_min_words).to_list()
    sample = [t[:500] for t, ok in zip(text.to_list(), eligible) if ok]
    candidates = sorted(set(config.candidate_languages) | set(config.languages))
    detected = iter(detect_languages(sample, candidates)) if sample else iter(())
    return [next(detected) if ok else None for ok in eligible]


def decide(stats: pl.DataFrame, config: CleanConfig) -> pl.DataFrame:
    """record_id, reason (null = keep) and detail, first failing rule wins."""
    rules = [
        (pl.col("n_chars") == 0, "empty", pl.lit("chars=0")),
        (pl.col("n_words") < config.min_words, "too_short", pl.format("words={}", "n_words")),
        (pl.col("n_chars") > config.max_chars, "too_long", pl.format("chars={}", "n_chars")),
        (
            pl.col("symbol_ratio") > config.max_symbol_ratio,
            "junk_symbols",
            pl.format("symbol_ratio={}", pl.col("symbol_ratio").round(2)),
        ),
        (pl.col("max_char_run") > 0, "junk_repetition", pl.format("char_run={}", "max_char_run")),
        (
            (pl.col("n_word_tokens") >= config.unique_word_min_words)
            & (pl.col("unique_word_ratio") < config.min_unique_word_ratio),
            "repetitive_words",
            pl.format("unique_word_ratio={}", pl.col("unique_word_ratio").round(2)),
        ),
        (
            pl.col("language").is_not_null() & ~pl.col("language").is_in(config.languages),
            "language_not_kept",
            pl.format("detected={}", "language"),
        ),
    ]
    reason = pl.when(rules[0][0]).then(pl.lit(rules[0][1]))
    detail = pl.when(rules[0][0]).then(rules[0][2])
    for condition, name, why in rules[1:]:
        reason = reason.when(condition).then(pl.lit(name))
        detail = detail.when(condition).then(why)
    return stats.select(
        "record_id",
        reason.otherwise(pl.lit(None, dtype=pl.Utf8)).alias("reason"),
        detail.otherwise(pl.lit(None, dtype=pl.Utf8)).alias("detail"),
    )
