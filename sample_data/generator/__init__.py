"""`etl sample-data`: the raw inputs of an Atlanta meal-prep company, seeded and reproducible.

Scale 1 writes the files checked in under `sample_data/`. Scale N writes N
blocks of the same shape (N times the rows, N times the planted problems),
which is what benchmarks run on. Besides the raw inputs it writes
`planted.json` (every planted personal value and malformed row, with file
and line) and a README that lists the planted problems with their counts.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from . import content, voice
from .catalog import BUSINESS, menu_document, stores_document
from .content import DISH_NAMES, STORE_NAMES, Planted

REVIEW_COLUMNS = ["review_id", "created_at", "customer_name", "customer_email", "rating", "item", "store", "text"]
EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PIPELINE_YAML = """\
# Pipeline config for the sample corpus. Paths are relative to this file.
dataset: healthy-bites
# published versions and run folders go inside this folder, so it is self-contained
store: store

sources:
  reviews: reviews*.csv
  chats: chat_logs.jsonl
  faqs: faqs.md
  calls: calls/*.txt

catalog:
  menu: menu.yaml
  stores: stores.yaml

clean:
  languages: [en]
  min_words: 1

deidentify:
  mode: surrogate
  # Sample data only: real runs set $ETL_PII_KEY (or deidentify.key_file).
  allow_dev_key: true
  order_number_patterns: ['\\bHB-\\d{6}\\b']
  loyalty_number_patterns: ['\\bHBR-\\d{4}-\\d{4}\\b']
  # delivery areas and landmarks the FAQs name: business words, not personal data
  allow_terms: [Smyrna, East Point, Piedmont Park, I-285]

# customer-side variants of train examples (nlpaug); eval keeps only originals
augment:
  enabled: true
# the prompt library: each task speaks in its own voice ({business}: the menu file's name)
format:
  prompts:
    menu_qa: >-
      You are {business}'s menu assistant. Answer questions about our dishes (price, calories,
      protein, ingredients, allergens, diets) in one or two friendly sentences, using only the
      menu's facts; if a dish is not on our menu, say so.
    recommendation: >-
      You are {business}'s meal guide. Recommend one or two dishes from our menu that fit what
      the customer asks for (diet, allergies, calories, protein) and say in a sentence why each fits.
    order_support: >-
      You are {business}'s order support. Help with orders, deliveries, pickups and refunds:
      be warm and brief, never make up an order number, and ask for it when you need it.
    review_sentiment: >-
      You read {business}'s customer reviews and answer with one word: positive, neutral or negative.
    policy_qa: >-
      You answer questions about {business}'s policies (ordering, delivery, subscriptions,
      payments, refunds) briefly and exactly as our FAQ states them.
    customer_service: >-
      You are {business}'s customer care team: warm, brief and specific. Apologise when
      something went wrong and say what happens next.
"""


def write_sample_data(out: Path, scale: int = 1, seed: int = 7) -> dict[str, int]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "calls").exists():
        shutil.rmtree(out / "calls")
    (out / "calls").mkdir()
    rng = random.Random(seed)
    planted = Planted()
    _write_yaml(out / "menu.yaml", menu_document())
    _write_yaml(out / "stores.yaml", stores_document())
    (out / "pipeline.yaml").write_text(PIPELINE_YAML, encoding="utf-8")
    counts = {
        "reviews": write_reviews(out, rng, planted, scale),
        "legacy reviews": write_legacy_reviews(out, rng, planted, scale),
        "chats": write_chats(out, rng, planted, scale),
        "faqs": write_faqs(out, rng, planted, scale),
        "calls": write_calls(out, rng, planted, scale),
    }
    pii = {kind: sorted(set(values)) for kind, values in planted.pii.items()}
    (out / "planted.json").write_text(
        json.dumps(
            {
                "scale": scale,
                "seed": seed,
                "counts": planted.counts,
                "malformed": planted.malformed,
                "duplicates": planted.duplicates,
                "pii": pii,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    (out / "README.md").write_text(_readme(scale, seed, counts, planted, pii), encoding="utf-8")
    return counts


def _write_yaml(path: Path, document: dict) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")


def _timestamp(rng: random.Random) -> datetime:
    return EPOCH + timedelta(minutes=rng.randrange(0, 60 * 24 * 320))


# ---------------------------------------------------------------- reviews


def _review_row(
    rng: random.Random, number: int, planted: Planted, text: str | None = None, rating: int | None = None
) -> list[str]:
    author = voice.person(rng)
    dish, store = rng.choice(DISH_NAMES), rng.choice(STORE_NAMES)
    rating = rating or rng.choices([5, 4, 3, 2, 1], weights=[40, 25, 12, 10, 13])[0]
    if text is None:
        text = content.review_text(rng, dish, store, rating, author, planted)
    show_name = rng.random() < 0.8
    return [
        f"R{number:07d}",
        _timestamp(rng).isoformat(),
        author.name if show_name else "",
        author.email,
        str(rating),
        dish,
        store,
        text,
    ]


def write_reviews(out: Path, rng: random.Random, planted: Planted, scale: int) -> int:
    items: list[tuple[str, object, str]] = []  # (kind, fields or raw line, planted code)
    number = 0

    def next_row(**kwargs) -> list[str]:
        nonlocal number
        number += 1
        return _review_row(rng, number, planted, **kwargs)

    for _ in range(scale):
        regular = [next_row() for _ in range(420)]
        for row in rng.sample(regular, 5):
            row[7] = row[7].replace(". ", ".\n", 1)  # multi-line reviews, quoted in the CSV
        items += [("row", row, "") for row in regular]
        for source in rng.sample(regular, 8):
            copy = next_row(text=source[7])
            planted.duplicate("review", copy[0], source[0], "exact")
            items.append(("row", copy, "exact_duplicate"))
        for source in rng.sample(regular, 10):
            copy = next_row(text=content.near_duplicate(source[7], rng))
            planted.duplicate("review", copy[0], source[0], "near")
            items.append(("row", copy, "near_duplicate"))
        for template in content.HTML_REVIEWS:
            items.append(("row", next_row(text=template.format(dish=rng.choice(DISH_NAMES)), rating=4), "html"))
        for _ in range(6):
            text = f"Didn’t expect much but the {rng.choice(DISH_NAMES)} is great — really fresh, like a café meal."
            items.append(("row", next_row(text=voice.mojibake(text), rating=5), "mojibake"))
        items += [("row", next_row(text=t), "empty") for t in ["", "   ", "\t", ""]]
        items += [("row", next_row(text=t), "one_word") for t in content.ONE_WORD]
        items += [("row", next_row(text=t), "non_english") for t in content.NON_ENGLISH_REVIEWS]
        items += [("row", next_row(text=t), "junk") for t in content.JUNK_REVIEWS]
        bad = next_row()
        items.append(("raw", _csv_line(bad[:5] + bad[6:]), "wrong_column_count"))  # item column lost
        bad = next_row()
        items.append(("raw", _csv_line(bad[:7] + [bad[7], "extra field"]), "wrong_column_count"))
        bad = next_row()
        items.append(("raw", _csv_line(bad[:3]), "wrong_column_count"))  # export cut mid-row
        bad = next_row()
        items.append(("raw", _csv_line(bad[:4] + ["five"] + bad[5:]), "invalid_field"))
        repeat = list(rng.choice(regular))
        repeat[7] = content.review_text(rng, repeat[5], repeat[6], int(repeat[4]), voice.person(rng), planted)
        items.append(("raw", _csv_line(repeat), "duplicate_id"))  # same review_id exported twice
    rng.shuffle(items)
    return _write_csv(out / "reviews.csv", "reviews.csv", REVIEW_COLUMNS, items, planted, encoding="utf-8")


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue()


def _write_csv(path: Path, name: str, header: list[str], items, planted: Planted, encoding: str) -> int:
    lines = [_csv_line(header)]
    line_no, seen_ids = 2, set()
    for kind, payload, code in items:
        text = payload if kind == "raw" else _csv_line(payload)
        if code:
            planted.count(f"reviews: {code}")
        if kind == "raw" and code != "duplicate_id":
            planted.bad(name, line_no, code, "review row")
        else:
            # whichever copy of a repeated id comes second is the malformed one
            review_id = next(csv.reader([text]))[0]
            if review_id in seen_ids:
                planted.bad(name, line_no, "duplicate_id", "review row")
            seen_ids.add(review_id)
        lines.append(text)
        line_no += text.count("\n")
    path.write_bytes("".join(lines).encode(encoding))
    return len(items)


LEGACY_TEXTS = [
    "Great meals, the crème brûlée oats are a treat. Service at the café counter was friendly.",
    "José at the Decatur store was so helpful, the jalapeño chicken was perfect.",
    "Ordered for the whole office, everyone loved it. Señor Gómez says hi!",
    "The entrée sizes are generous and the piña colada smoothie was a nice surprise.",
    "Naïve of me to think healthy food can't taste good. Loved the Paleo Power Bowl.",
]


def write_legacy_reviews(out: Path, rng: random.Random, planted: Planted, scale: int) -> int:
    """An old export from the previous review platform, saved in Latin-1 by a spreadsheet."""
    items = []
    for block in range(scale):
        for index in range(20):
            row = _review_row(
                rng,
                900000 + block * 100 + index,
                planted,
                text=rng.choice(LEGACY_TEXTS) + f" ({index + 1})",
                rating=rng.choice([4, 5]),
            )
            row[2] = rng.choice(["Zoë Martín", "José Peña", "Renée Dubois", "Ana Núñez", row[2]])
            items.append(("row", row, ""))
    planted.count("files in Latin-1 (reviews_legacy_export.csv)")
    return _write_csv(
        out / "reviews_legacy_export.csv",
        "reviews_legacy_export.csv",
        REVIEW_COLUMNS,
        items,
        planted,
        encoding="latin-1",
    )


# ---------------------------------------------------------------- chats


def _chat_object(rng: random.Random, number: int, planted: Planted, turns=None, feedback: dict | None = None) -> dict:
    customer = voice.person(rng)
    if turns is None:
        turns, _ = content.chat_turns(rng, customer, planted)
    start = _timestamp(rng)
    messages, clock = [], start
    for role, text in turns:
        clock += timedelta(seconds=rng.randrange(5, 90))
        messages.append({"role": role, "text": text, "ts": clock.isoformat().replace("+00:00", "Z")})
    if feedback is not None:  # a re-exported copy carries the original's feedback as it was
        return _chat_dict(number, start, customer, messages, dict(feedback))
    feedback = {"rating": rng.choices(["up", None, "down"], weights=[55, 30, 15])[0], "comment": None}
    if feedback["rating"] == "down":
        bot = [m for m in messages if m["role"] == "bot"]
        if bot:
            useless = rng.choice(
                [
                    "Sorry, I didn't understand that. Can you rephrase?",
                    "Please check our FAQ page for more information.",
                    "I can only help with orders. Please call the store.",
                ]
            )
            judged = rng.choice(bot)  # drawn after the answer, as the sample always drew them
            answer, judged["text"] = judged["text"], useless
            _agent_takes_over(number, messages, judged, answer)
        feedback["comment"] = rng.choice([None, "bot was useless", "didn't answer my question", "had to call instead"])
    return _chat_dict(number, start, customer, messages, feedback)


def _agent_takes_over(number: int, messages: list[dict], judged: dict, answer: str) -> None:
    """In about half the thumbs-down chats a human agent steps in right after the bot's useless
    answer and gives the answer it should have given (a preference pair of the first kind). Its own
    seeded draw, so the rest of the sample is the same as before agents took over."""
    if random.Random(f"agent-takes-over:{number}").random() < 0.5:
        at = messages.index(judged)
        ts = judged["ts"]
        messages.insert(at + 1, {"role": "agent", "text": answer, "ts": ts})


def _chat_dict(number: int, start: datetime, customer: voice.Person, messages: list[dict], feedback: dict) -> dict:
    return {
        "conversation_id": f"CH-{number:06d}",
        "started_at": start.isoformat().replace("+00:00", "Z"),
        "customer": {"name": customer.name, "email": customer.email, "phone": customer.phone},
        "messages": messages,
        "feedback": feedback,
    }


def write_chats(out: Path, rng: random.Random, planted: Planted, scale: int) -> int:
    items: list[tuple[str, str]] = []  # (line, planted code)
    number = 0

    def next_chat(**kwargs) -> dict:
        nonlocal number
        number += 1
        return _chat_object(rng, number, planted, **kwargs)

    dumps = lambda obj: json.dumps(obj, ensure_ascii=False)  # noqa: E731
    for _ in range(scale):
        regular = [next_chat() for _ in range(160)]
        items += [(dumps(chat), "") for chat in regular]
        for source in rng.sample(regular, 3):
            copy = next_chat(turns=[(m["role"], m["text"]) for m in source["messages"]], feedback=source["feedback"])
            planted.duplicate("chat", copy["conversation_id"], source["conversation_id"], "exact")
            items.append((dumps(copy), "exact_duplicate"))
        for source in rng.sample(regular, 4):
            turns = [
                (m["role"], content.near_duplicate(m["text"], rng) if m["role"] == "customer" else m["text"])
                for m in source["messages"]
            ]
            copy = next_chat(turns=turns, feedback=source["feedback"])
            planted.duplicate("chat", copy["conversation_id"], source["conversation_id"], "near")
            items.append((dumps(copy), "near_duplicate"))
        for _ in range(2):
            items.append((dumps(next_chat(turns=content.SPANISH_CHAT)), "non_english"))
        for dish in rng.sample(DISH_NAMES, 2):
            turns = [
                ("customer", f"is the {dish} gluten free?"),
                (
                    "bot",
                    f"<p>The <b>{dish}</b> is tagged: <i>{', '.join(content.dish_facts(dish)['tags'])}</i>.</p><br/>See the menu &amp; labels for details.",
                ),
            ]
            items.append((dumps(next_chat(turns=turns)), "html"))
        for _ in range(2):
            turns = [
                ("customer", voice.mojibake("what’s the café hours on sunday?")),
                ("bot", "Our Midtown store is open Sun 9am-5pm."),
            ]
            items.append((dumps(next_chat(turns=turns)), "mojibake"))
        good = dumps(next_chat())
        items.append((good[: len(good) // 2], "invalid_json"))  # line cut off mid-object
        items.append(
            (next_chat()["conversation_id"] + " | customer asked about keto meals | resolved", "invalid_json")
        )
        items.append(("{'conversation_id': 'CH-legacy', 'messages': []}", "invalid_json"))  # Python repr, not JSON
        broken = next_chat()
        del broken["messages"]
        items.append((dumps(broken), "invalid_schema"))
        broken = next_chat()
        broken["messages"][0]["role"] = "system"
        items.append((dumps(broken), "invalid_schema"))
        broken = next_chat()
        broken["messages"] = []
        items.append((dumps(broken), "invalid_schema"))
        twin = next_chat()
        twin["conversation_id"] = rng.choice(regular)["conversation_id"]
        items.append((dumps(twin), "duplicate_id"))
    rng.shuffle(items)
    # duplicate_id is only malformed where the twin comes after its original
    seen: set[str] = set()
    lines = []
    for number_in_file, (line, code) in enumerate(items, start=1):
        if code:
            planted.count(f"chats: {code}")
        if code in ("invalid_json", "invalid_schema"):
            planted.bad("chat_logs.jsonl", number_in_file, code, "chat line")
        if code != "invalid_json" and code != "invalid_schema":
            cid = json.loads(line)["conversation_id"]
            if cid in seen:
                planted.bad("chat_logs.jsonl", number_in_file, "duplicate_id", "chat line")
            seen.add(cid)
        lines.append(line)
    (out / "chat_logs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(items)


# ---------------------------------------------------------------- FAQs

FAQ_VARIANTS = ["Quick question: {q}", "{q} Thanks!", "Hi, {q}", "{q} (asking for a friend)", "Can you tell me: {q}"]


def write_faqs(out: Path, rng: random.Random, planted: Planted, scale: int) -> int:
    """Markdown with a BOM, as saved by a Windows editor."""
    sections = {category: list(entries) for category, entries in content.FAQ_BASE.items()}
    sections["Ordering"].append(
        (
            "How do I place an order?",
            "Order on our website or app by Sunday 11:59pm for delivery or pickup the following week. You can also call any store.",
        )
    )
    sections["Delivery & Pickup"].append(
        (
            "Where do you deliver to?",
            "We deliver across metro Atlanta inside I-285, plus Decatur, Smyrna and East Point!",
        )
    )
    sections["Menu & Nutrition"].append(("Is there a kids menu?", ""))
    sections["Payments & Refunds"].append(
        (
            "Do you take cash?",
            "<p>Cash is accepted at <b>all four stores</b> for pickup orders.<br>Delivery orders are card only.</p>",
        )
    )
    planted.count("faqs: exact_duplicate")
    planted.count("faqs: near_duplicate")
    planted.duplicate("faq", "how do i place an order?#2", "how do i place an order?", "exact")
    planted.duplicate("faq", "where do you deliver to?", "where do you deliver?", "near")
    planted.count("faqs: html")
    for _ in range(1, scale):
        for category, entries in content.FAQ_BASE.items():
            base = rng.sample(entries, min(8, len(entries)))
            sections[category] += [(rng.choice(FAQ_VARIANTS).format(q=q), a) for q, a in base]
    lines = [
        "# Healthy Bites: frequently asked questions",
        "",
        f"Answers from the {BUSINESS} team. Last updated November 2026.",
        "",
    ]
    total = 0
    for category, entries in sections.items():
        lines += [f"## {category}", ""]
        for question, answer in entries:
            total += 1
            if not answer:
                planted.bad("faqs.md", len(lines) + 1, "missing_answer", "FAQ without answer")
                planted.count("faqs: missing_answer")
            lines += [f"### {question}", ""]
            if answer:
                lines += [*_wrap(answer), ""]
    (out / "faqs.md").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    planted.count("files with a UTF-8 BOM (faqs.md)")
    return total


def _wrap(text: str, width: int = 88) -> list[str]:
    words, lines, current = text.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return lines


# ---------------------------------------------------------------- calls


def _transcript(rng: random.Random, call_id: str, lines: list[tuple[str, str]], agent: str, stamps: bool) -> str:
    start = _timestamp(rng)
    out = [f"Call-ID: {call_id}", f"Date: {start.strftime('%Y-%m-%d %H:%M')}", f"Agent: {agent}", ""]
    clock = rng.randrange(2, 6)
    for speaker, text in lines:
        prefix = f"[{clock // 3600:02d}:{clock % 3600 // 60:02d}:{clock % 60:02d}] " if stamps else ""
        if len(text) > 70 and rng.random() < 0.5:
            cut = text.rfind(" ", 0, 60)  # the transcription tool wrapped a long turn
            out += [f"{prefix}{speaker}: {text[:cut]}", f"    {text[cut + 1 :]}"]
        else:
            out.append(f"{prefix}{speaker}: {text}")
        clock += rng.randrange(3, 25)
    return "\n".join(out) + "\n"


def write_calls(out: Path, rng: random.Random, planted: Planted, scale: int) -> int:
    number = 0
    written = 0
    for _ in range(scale):
        texts: list[tuple[str, str]] = []  # (transcript, planted code)
        for _ in range(44):
            number += 1
            agent = rng.choice(voice.STAFF)
            lines = content.call_lines(rng, agent, voice.person(rng), planted)
            texts.append((_transcript(rng, f"C-{number:06d}", lines, agent, stamps=rng.random() < 0.8), ""))
        number += 1
        original = texts[rng.randrange(len(texts))][0]
        planted.duplicate("call", f"C-{number:06d}", original.split("\n", 1)[0].removeprefix("Call-ID: "), "exact")
        texts.append((f"Call-ID: C-{number:06d}\n" + original.split("\n", 1)[1], "exact_duplicate"))
        number += 1
        spanish = [
            ("AGENT", "Gracias por llamar a Healthy Bites, habla Renee. ¿En qué le puedo ayudar?"),
            ("CUSTOMER", "hola, quería saber si el pedido de mi esposo ya salió para la casa"),
            ("AGENT", "Sí, el pedido salió hace veinte minutos y debe llegar antes de la una."),
            ("CUSTOMER", "perfecto, muchas gracias por la ayuda"),
        ]
        texts.append((_transcript(rng, f"C-{number:06d}", spanish, "Renee", stamps=True), "non_english"))
        texts.append(("", "empty_file"))
        texts.append(
            (
                "Date: 2026-06-02 10:14\nAgent: Dana\n\n[00:00:02] AGENT: Thanks for calling!\n[00:00:05] CUSTOMER: hi, is the Midtown store open today\n",
                "missing_header",
            )
        )
        number += 1
        texts.append(
            (
                f"Call-ID: C-{number:06d}\nDate: 2026-07-19 16:40\nAgent: Leon\n\n(call dropped before anyone spoke)\n",
                "no_turns",
            )
        )
        number += 1
        bom = "\ufeff" + _transcript(
            rng, f"C-{number:06d}", content.call_lines(rng, "Tasha", voice.person(rng), planted), "Tasha", stamps=False
        )
        texts.append((bom, "bom"))
        rng.shuffle(texts)
        for text, code in texts:
            written += 1
            name = f"calls/call_{written:05d}.txt"
            (out / name).write_bytes(text.encode("utf-8"))
            if code:
                planted.count(f"calls: {code}")
            if code in ("empty_file", "missing_header", "no_turns"):
                planted.bad(name, 1, code, "call transcript")
    return written


# ---------------------------------------------------------------- README


def _readme(scale: int, seed: int, counts: dict[str, int], planted: Planted, pii: dict[str, list[str]]) -> str:
    rows = "\n".join(f"| {what} | {n} |" for what, n in sorted(planted.counts.items()))
    pii_rows = "\n".join(f"| {kind} | {len(values)} |" for kind, values in pii.items())
    bad_rows = "\n".join(f"| `{m['file']}` | {m['line']} | `{m['error_code']}` |" for m in planted.malformed)
    return f"""# Sample data: Healthy Bites, an Atlanta meal-prep company

Made by `etl sample-data --out sample_data --scale {scale} --seed {seed}`; every name, e-mail,
phone number, address and card number is invented. Do not edit by hand: change the
generator (`sample_data/generator/`, in the source checkout) and write the files again.

| file | rows |
|---|---|
| `reviews.csv` | {counts["reviews"]} |
| `reviews_legacy_export.csv` (Latin-1) | {counts["legacy reviews"]} |
| `chat_logs.jsonl` | {counts["chats"]} |
| `faqs.md` | {counts["faqs"]} questions |
| `calls/*.txt` | {counts["calls"]} transcripts |
| `menu.yaml`, `stores.yaml` | the catalog: dishes and store locations |

`pipeline.yaml` is the pipeline config for this corpus; `planted.json` lists, for tests,
every planted personal value and every malformed row with its file and line.

## Planted on purpose

| what | count |
|---|---|
{rows}

Personal data inside free text (distinct values):

| entity | values |
|---|---|
{pii_rows}

Reviews also carry `customer_name` and `customer_email` columns, and chats a `customer`
object, which are personal data too.

## Malformed input and where it is

| file | line | expected quarantine code |
|---|---|---|
{bad_rows}
"""
