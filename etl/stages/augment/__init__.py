"""Augment: more varied customer phrasing, never a changed fact (nlpaug on customer turns, train split only).

After the split, train examples of the configured tasks get variants whose
customer (user) turns are rewritten by nlpaug; assistant answers are never
touched, and the eval split holds only original examples. Methods (each with
its parameters in config, all without downloads):

    keyboard   typos of neighbouring keys (nlpaug KeyboardAug)
    ocr        OCR-like character confusions (OcrAug)
    spelling   common misspellings from nlpaug's own dictionary (SpellingAug)
    swap       neighbouring words swapped, low rate (RandomWordAug, action swap)
    delete     words deleted, low rate (RandomWordAug, action delete)
    synonyms   domain synonyms from the reviewed thesaurus.txt (ReservedAug)

and, named in config with a local `model_path` (never downloaded):

    contextual    words replaced by a masked language model's guesses in context
                  (ContextualWordEmbsAug; a BERT or RoBERTa folder)
    word_vectors  words replaced by their nearest neighbours in a word-vectors file
                  (WordEmbsAug; GloVe text, word2vec binary or fastText)

Protected facts (dish names, ingredients, allergens, diet tags from the
catalog; numbers, prices, quantities and times; capitalised names such as
pseudonymised customers and places; negations) are handed to nlpaug as stop
words so it leaves them alone, and checked afterwards (etl/text/facts.py): a variant
whose protected facts differ from its parent's is rejected
(`protected_fact_changed`). A variant whose sentence embedding drifts below
`augment.min_similarity` of its parent's (cosine, the semantic-dedup model) is
rejected (`meaning_drift`), and so is one that repeats an original or another
variant (`duplicate_of_original`, `duplicate_of_variant`) or changes nothing
(`unchanged`). Every variant carries `parent_id` and `augmentation` (method and
parameters, JSON). At most `variants_per_parent` variants per parent, and per
task at most `max_share` of its train examples are variants. Each variant's
random state is seeded from the seed, the parent id and the method, so one seed
gives the same rows in any order and on any machine.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from etl.catalog import Catalog
from etl.config import AugmentConfig
from etl.embeddings import EMBED_BATCH, Embedder
from etl.memo import Memo, code_digest, digest, files_digest
from etl.stages.augment.augmenters import build_augmenter, model_path, variant_seed
from etl.stages.base import HERE, Parallel, Progress, Stage, StageResult, Tally
from etl.text.facts import ProtectedFacts
from etl.text.normalise import normalise

# word swaps and deletions leave shorter lines alone
MIN_WORDS_TO_MOVE = 8
# candidates tried per variant a task may still take (the sample's rejection rate is about half)
CANDIDATE_HEADROOM = 3
# parents augmented and judged at a time: enough to fill the variants a task can still take
# (about 60 % of candidates pass the fact check, bench/e2e.py), between these bounds. The meaning
# check embeds a chunk's candidates in one call, and the larger the call, the fuller the
# embedding batches of each padded length: 256 parents a chunk left about 10 texts a batch and
# embedded 10-20 % slower (2-core AMX CPU, bfloat16); a task stops at the chunk that fills its cap
CHUNK_PARENTS = (256, 8192)
PARENTS_PER_VARIANT = 2
# candidates embedded beyond what a task can still take: after the fact check, 3 % of the
# rest fail the meaning check or repeat a text (bench/e2e.py, 20,000 records)
SIMILARITY_SLACK = 8


def user_texts(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


class AugmentStage(Stage):
    name = "augment"
    unit = "examples"
    id_column = "id"
    produces = "examples"  # originals plus variants

    def __init__(
        self,
        config: AugmentConfig,
        catalog: Catalog,
        embedding_model: str | None = None,
        base_dir: Path | None = None,
        precision: str = "auto",
        embedder: Embedder | None = None,
        parallel: Parallel = HERE,
        memo: Memo | None = None,
    ) -> None:
        self.config, self.catalog, self.embedding_model, self.base_dir = config, catalog, embedding_model, base_dir
        # each (parent, method) rewrite kept for the next run (augment_memo); none kept by default
        self.memo = memo if memo is not None else Memo(None, "augment", {})
        self.precision = precision
        self.embedder = embedder or Embedder()  # the run's (registry); a worker's copy builds its own
        # where the rewriting runs: here, or an executor's (Ray), by `rewrite_jobs`
        self.parallel = parallel
        self.facts = ProtectedFacts(catalog)
        self.augmenters: dict = {}
        self.made: dict[str, dict[str, int]] = {}
        self.rejected: dict[str, int] = {}
        self.variants = 0

    def setup(self, frame: pl.DataFrame) -> None:
        """A user's model that is not there fails now; the augmenters themselves are built at the
        first rewrite the memo does not hold (nlpaug's dictionaries take a second to load)."""
        for m in self.config.methods:
            if m.method in ("contextual", "word_vectors"):
                model_path(m.method, m.params, self.base_dir)

    def _build_augmenters(self) -> None:
        for m in self.config.methods:
            self._augmenter(m.method)

    def _augmenter(self, method: str):
        """The method's nlpaug augmenter, built at its first use (a night with a few new parents
        needs only their methods; the spelling dictionary alone takes half a second)."""
        if method not in self.augmenters:
            params = next(m.params for m in self.config.methods if m.method == method)
            self.augmenters[method] = build_augmenter(method, params, self.facts, self.base_dir)
        return self.augmenters[method]

    def total_work(self, frame: pl.DataFrame) -> int:
        return max(frame.filter(self._eligible()).height, 1)

    def _eligible(self) -> pl.Expr:
        return (pl.col("split") == "train") & pl.col("task").is_in(self.config.tasks) & pl.col("parent_id").is_null()

    def apply(self, frame: pl.DataFrame, progress: Progress) -> StageResult:
        variants = self._variants(frame, progress)
        self.memo.keep()
        self.variants = len(variants)
        for row in variants:
            method = json.loads(row["augmentation"])["method"]
            self.made.setdefault(row["task"], {}).setdefault(method, 0)
            self.made[row["task"]][method] += 1
        added = pl.DataFrame(variants, schema=frame.schema) if variants else frame.clear()
        kept = pl.concat([frame, added]).sort("task", "id")
        # per task and method in the run summary and the manifest (summary_fields)
        counts = {"variants": len(variants)} | {f"rejected_{reason}": n for reason, n in sorted(self.rejected.items())}
        return StageResult(
            kept=kept,
            dropped=pl.DataFrame(schema={"id": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8}),
            counts=counts,
        )

    def tally(self, frame: pl.DataFrame, result: StageResult) -> Tally:
        """Originals in = originals kept (augmentation drops none); the variants are handed on too."""
        return Tally(frame.height, frame.height, 0, result.kept.height)

    def summary_fields(self) -> dict:
        return {"augmentation": {"variants": self.made, "rejected": self.rejected}}

    def reuse(self) -> dict[str, dict[str, int]]:
        return {"rewrites": self.memo.counts()}

    def _variants(self, frame: pl.DataFrame, progress: Progress) -> list[dict]:
        """Per task, parents in a seeded order are tried in chunks until the task's cap of
        variants is full (or CANDIDATE_HEADROOM times the cap have been tried): a large corpus
        does not pay for candidates, or their embeddings, that the cap would refuse."""
        originals = set(zip(frame["task"], normalise(self._joined_user_texts(frame["messages"].to_list()))))
        methods = [m.method for m in self.config.methods]
        seen: set = set()
        variants: list[dict] = []
        for _, part in frame.filter(self._eligible()).group_by(["task"], maintain_order=True):
            ordered = sorted(
                part.iter_rows(named=True), key=lambda r: variant_seed(self.config.seed, r["id"], "order")
            )
            cap = self._cap(part.height)
            parents = ordered[: -(-CANDIDATE_HEADROOM * cap // self.config.variants_per_parent)]
            made: list[dict] = []
            start = 0
            while start < len(parents) and len(made) < cap:
                chunk = parents[start : start + self._chunk_size(cap - len(made))]
                start += len(chunk)
                tried = [(parent, method) for parent in chunk for method in self._methods_for(parent, methods)]
                jobs = [(parent["id"], user_texts(parent["messages"]), method) for parent, method in tried]
                rewritten = rewrite_jobs(self, jobs, self.parallel)
                progress(len(chunk))
                candidates = [(parent, method, texts) for (parent, method), texts in zip(tried, rewritten)]
                made += self._judge(candidates, originals, seen, cap - len(made))
            variants += made
        return variants

    def _chunk_size(self, room: int) -> int:
        """Parents to try for `room` more variants: PARENTS_PER_VARIANT a variant, within CHUNK_PARENTS."""
        least, most = CHUNK_PARENTS
        return min(max(-(-PARENTS_PER_VARIANT * room // self.config.variants_per_parent), least), most)

    def _cap(self, originals: int) -> int:
        """The most variants a task with this many train originals may get: variants / (originals + variants) <= max_share."""
        return int(self.config.max_share * originals / (1 - self.config.max_share))

    def _methods_for(self, parent: dict, methods: list[str]) -> list[str]:
        """The methods a parent is tried with: `variants_per_parent` of them, from a seeded first."""
        first = variant_seed(self.config.seed, parent["id"], "methods") % len(methods)
        return (methods[first:] + methods[:first])[: self.config.variants_per_parent]

    def rewrite(self, parent_id: str, texts: list[str], method: str) -> list[str]:
        """A parent's user texts rewritten by one method, seeded by the parent and the method: the
        same result in any process, which is what lets an executor spread the rewriting."""
        self._augmenter(method)  # built before the seed is set: building never moves the seeded draws
        seed = variant_seed(self.config.seed, parent_id, method)
        random.seed(seed)
        np.random.seed(seed)
        return [self._augment_text(text, method) for text in texts]

    def for_workers(self) -> AugmentStage:
        """A copy to send to other processes: the configuration, without this process's
        augmenters or embedder (each worker builds its own augmenters once)."""
        return AugmentStage(self.config, self.catalog, self.embedding_model, self.base_dir, self.precision)

    def _augment_text(self, text: str, method: str) -> str:
        """Line by line, line breaks kept (nlpaug joins tokens with single spaces). Word swaps and
        deletions only touch lines of MIN_WORDS_TO_MOVE words or more: in "thank u so much" every
        word carries the meaning."""
        lines = re.split(r"(\n+)", text)
        out = []
        for line in lines:
            words = len(line.split())
            if not words or line.startswith("\n") or (method in ("swap", "delete") and words < MIN_WORDS_TO_MOVE):
                out.append(line)
                continue
            if method == "contextual":
                self._protect_line(self.augmenters[method], line)
            result = self.augmenters[method].augment(line)
            new = result[0] if isinstance(result, list) and result else line
            # keep the line's own leading and trailing spaces
            out.append(line[: len(line) - len(line.lstrip())] + new + line[len(line.rstrip()) :])
        return "".join(out)

    def _protect_line(self, augmenter, line: str) -> None:
        """The protected words of this line as the contextual augmenter's stop words."""
        pattern = self._protected_token
        words = sorted({t for t in line.split() if t in self.facts.stopwords or pattern.fullmatch(t)})
        augmenter.stopwords = [w.lower() for w in words]  # nlpaug compares lower-cased tokens
        augmenter._build_stop_words(words)  # nlpaug's own builder: a line's few words, one small regex

    @cached_property
    def _protected_token(self) -> re.Pattern[str]:
        return re.compile(self.facts.stopwords_regex)

    def _judge(
        self, candidates: list[tuple[dict, str, list[str]]], originals: set, seen: set, room: int
    ) -> list[dict]:
        """The variants, in order, that keep every fact, the meaning and stay new, until `room`
        are made; rejections of the candidates judged are counted by reason."""
        keys = normalise(pl.Series(["\n".join(texts) for _, _, texts in candidates], dtype=pl.Utf8)).to_list()
        # the cheap checks first: only a candidate that passes them is embedded
        early = [self._early_reason(parent, texts) for parent, _, texts in candidates]
        similarity = _LazySimilarities(
            self._similarities, [c for c, reason in zip(candidates, early) if reason is None]
        )
        variants = []
        for (parent, method, texts), text_key, reason in zip(candidates, keys, early):
            if len(variants) >= room:
                break  # the task's share of variants is full
            key = (parent["task"], text_key)
            if reason is not None:
                pass
            elif similarity.next(room - len(variants)) < self.config.min_similarity:
                reason = "meaning_drift"
            elif key in originals:
                reason = "duplicate_of_original"
            elif key in seen:
                reason = "duplicate_of_variant"
            if reason is not None:
                self.rejected[reason] = self.rejected.get(reason, 0) + 1
                continue
            seen.add(key)
            variants.append(self._variant(parent, method, texts))
        return variants

    def _early_reason(self, parent: dict, texts: list[str]) -> str | None:
        before = user_texts(parent["messages"])
        if texts == before:
            return "unchanged"
        if any(self.facts.of(a) != self.facts.of(b) for a, b in zip(before, texts)):
            return "protected_fact_changed"
        return None

    @staticmethod
    def _joined_user_texts(messages: list[list[dict]]) -> pl.Series:
        return pl.Series(["\n".join(user_texts(m)) for m in messages], dtype=pl.Utf8)

    def _similarities(self, candidates: list[tuple[dict, str, list[str]]]) -> list[float]:
        if not candidates:
            return []
        before = ["\n".join(user_texts(p["messages"])) for p, _, _ in candidates]
        after = ["\n".join(t) for _, _, t in candidates]
        vectors = self.embedder(before + after, self.embedding_model, EMBED_BATCH, self.precision)
        return list((vectors[: len(before)] * vectors[len(before) :]).sum(axis=1))

    def _variant(self, parent: dict, method: str, texts: list[str]) -> dict:
        params = next(m.params for m in self.config.methods if m.method == method)
        replaced = iter(texts)
        messages = [{**m, "content": next(replaced)} if m["role"] == "user" else m for m in parent["messages"]]
        digest = hashlib.sha256(f"{parent['id']}|{method}|{self.config.seed}".encode()).hexdigest()[:16]
        return {
            **parent,
            "id": f"{parent['id']}-aug-{digest}",
            "messages": messages,
            "parent_id": parent["id"],
            "augmentation": json.dumps({"method": method, "params": params, "seed": self.config.seed}, sort_keys=True),
        }


def rewrite_here(stage: AugmentStage, jobs: list[tuple[str, list[str], str]]) -> list[list[str]]:
    """Every (parent id, user texts, method) rewritten in this process, in order."""
    return [stage.rewrite(parent_id, texts, method) for parent_id, texts, method in jobs]


# augmentation jobs (a parent and a method) a rewriting block holds when the work is spread
# (Ray), and the fewest worth spreading
REWRITE_BLOCK = 256
SPREAD_REWRITE_MIN = 64


def rewrite_jobs(
    stage: AugmentStage, jobs: list[tuple[str, list[str], str]], parallel: Parallel = HERE
) -> list[list[str]]:
    """(parent id, user texts, method) -> rewritten texts, in order: from the stage's memo when
    an earlier run made them, the rest rewritten (`rewrite_new`). Each job is seeded by its
    parent and method, so a kept rewrite is the one made tonight."""
    keys = [digest(*job) for job in jobs]
    kept = [stage.memo.get(key) for key in keys]
    fresh = iter(rewrite_new(stage, [job for job, texts in zip(jobs, kept) if texts is None], parallel))
    out = []
    for key, texts in zip(keys, kept):
        if texts is None:
            texts = next(fresh)
            stage.memo.put(key, texts)
        out.append(texts)
    return out


def rewrite_new(
    stage: AugmentStage, jobs: list[tuple[str, list[str], str]], parallel: Parallel = HERE
) -> list[list[str]]:
    """Jobs rewritten here, or where `parallel` spreads work, on workers that build the
    augmenters once each (`Rewriter`)."""
    if not jobs:
        return []
    if not parallel.distributed or len(jobs) < SPREAD_REWRITE_MIN:
        return rewrite_here(stage, jobs)
    import pyarrow as pa

    table = pa.table(
        {
            "parent_id": pa.array([j[0] for j in jobs], pa.string()),
            "texts": pa.array([j[1] for j in jobs], pa.list_(pa.string())),
            "method": pa.array([j[2] for j in jobs], pa.string()),
        }
    )
    return [list(r["texts"]) for r in parallel.map_blocks(Rewriter, (stage.for_workers(),), table, REWRITE_BLOCK)]


class Rewriter:
    """One worker's copy of the augment stage: its augmenters built once, a block of
    (parent id, user texts, method) in, the rewritten texts out, in the block's order."""

    def __init__(self, stage: AugmentStage) -> None:
        self.stage = stage
        stage._build_augmenters()

    def __call__(self, batch):
        import pyarrow as pa

        jobs = zip(
            batch.column("parent_id").to_pylist(),
            batch.column("texts").to_pylist(),
            batch.column("method").to_pylist(),
        )
        texts = [self.stage.rewrite(parent_id, turns, method) for parent_id, turns, method in jobs]
        return pa.table({"texts": pa.array(texts, pa.list_(pa.string()))})


class _LazySimilarities:
    """The meaning check's similarities in candidate order, embedded a slice at a time: only as
    many candidates as the task can still take (plus SIMILARITY_SLACK for the few the later
    checks reject), so the chunk that fills a task's share does not embed the rest of itself."""

    def __init__(self, compute, candidates: list) -> None:
        self.compute, self.candidates, self.values, self.position = compute, candidates, [], 0

    def next(self, room: int) -> float:
        if self.position == len(self.values):
            start = len(self.values)
            self.values += self.compute(self.candidates[start : start + room + SIMILARITY_SLACK])
        self.position += 1
        return self.values[self.position - 1]


def augment_memo(
    folder: Path | None, config: AugmentConfig, catalog: Catalog, base_dir: Path | None, read: bool = True
) -> Memo:
    """The memo of rewrites: a parent's rewrite by one method depends on its id and texts (the
    key), and on the methods' settings and seed, the catalog's protected facts, a user's model,
    nlpaug and our rewriting code (the namespace)."""
    from importlib import metadata

    here = Path(__file__).resolve().parent
    models = {
        m.method: files_digest(model_path(m.method, m.params, base_dir))
        for m in config.methods
        if m.method in ("contextual", "word_vectors")
    }
    namespace = {
        "config": config.model_dump(mode="json"),
        "catalog": catalog.model_dump_json(),
        "models": models,
        "code": code_digest(here, here.parents[1] / "text"),
        "libraries": {name: metadata.version(name) for name in ("nlpaug", "faker", "numpy")},
    }
    return Memo(folder, "augment", namespace, read)
