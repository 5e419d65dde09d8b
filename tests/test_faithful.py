"""Faithful on real text (issue 10): raw personal data stays out of the store, and what the
pipeline publishes keeps every fact and word that is not personal data."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from presidio_analyzer import RecognizerResult

from etl.config import ConfigError, load_config
from etl.run.runner import run_pipeline
from etl.run.work_folder import WorkFolder
from tests.conftest import SAMPLE, file_text, write


def test_no_planted_personal_value_anywhere_in_the_store(sample_run):
    store = Path(sample_run.store_dir)
    files = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and (store / sample_run.dataset / "latest").is_file()
    planted = [v for values in json.loads((SAMPLE / "planted.json").read_text())["pii"].values() for v in values]
    assert len(planted) > 50
    found = {str(p.relative_to(store)): [v for v in planted if v in file_text(p)] for p in files}
    assert {k: v for k, v in found.items() if v} == {}
    # the raw text is in the run folder, outside the store, owner-only
    run_dir = Path(sample_run.run_dir)
    assert not run_dir.is_relative_to(store)
    assert any(v in file_text(run_dir / "stages" / "01_ingest.parquet") for v in planted)
    for folder in (run_dir, run_dir.parent, run_dir / "stages"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_work_folder_inside_the_store_is_refused(sample_copy):
    with open(sample_copy / "pipeline.yaml", "a", encoding="utf-8") as handle:
        handle.write("\nwork_dir: store/work\n")
    config = load_config(sample_copy / "pipeline.yaml")
    with pytest.raises(ConfigError, match="work_dir: .* overlaps the store"):
        config.work_root(config.store_dir())


def test_old_run_folders_are_removed_beyond_keep_runs(sample_copy, tmp_path):
    from etl.run.runner import run_pipeline

    config = load_config(sample_copy / "pipeline.yaml")
    config.keep_runs = 2
    config.dedup.semantic.enabled = False
    for _ in range(3):
        summary = run_pipeline(config, store=tmp_path / "store")
    work = config.work_root(Path(summary.store_dir))
    assert [p.name for p in WorkFolder(work, config.dataset).run_folders()][-1] == summary.run_id
    assert len(WorkFolder(work, config.dataset).run_folders()) == 2
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.cli",
            "purge-runs",
            "--config",
            str(sample_copy / "pipeline.yaml"),
            "--store",
            str(tmp_path / "store"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "removed 2 of 2 run folder(s)" in done.stdout and WorkFolder(work, config.dataset).run_folders() == []


# ------------------------------------------------------------------ de-identification keeps the text whole

from etl.catalog import load_catalog  # noqa: E402
from etl.records import make_record, records_frame  # noqa: E402
from etl.stages.deidentify import DeidentifyStage  # noqa: E402
from etl.stages.deidentify.spans import separate_overlaps  # noqa: E402

CATALOG = load_catalog(SAMPLE / "menu.yaml", SAMPLE / "stores.yaml")
DEID = load_config(SAMPLE / "pipeline.yaml").deidentify.model_copy(
    update={"business_contacts": ["hello@healthybites.example", "@healthybites"]}
)


def deidentify(*texts: str, meta: dict | None = None) -> list[str]:
    records = [
        make_record("review", "r.csv", i + 2, f"R{i}", [{"role": "user", "text": t}], meta or {})
        for i, t in enumerate(texts)
    ]
    result = DeidentifyStage(DEID, CATALOG, b"k" * 32).apply(records_frame(records), lambda n: None)
    return [turns[0]["text"] for turns in result.kept["turns"].to_list()]


def assert_removed(cases: dict[str, str]) -> list[str]:
    """De-identify each text and check its value is gone; the outputs, in order."""
    out = deidentify(*cases)
    for text, (original, value) in zip(out, cases.items()):
        assert value not in text, (original, text)
    return out


def test_links_emoji_shouting_and_the_business_contacts_survive_unchanged():
    texts = [
        "Full recipe at https://www.seriouseats.com/kenji-lopez-alt-pho-recipe, try it!",
        "Best bowl ever 😍🔥 will order again 🙌",
        "The food was AMAZING and the delivery was FAST. NEVER AGAIN will I cook.",
        "Questions? Write to hello@healthybites.example or DM @healthybites on Instagram.",
    ]
    assert deidentify(*texts) == texts


def test_a_real_name_and_a_handle_do_not_survive_and_the_spacing_around_them_is_kept():
    out = deidentify("Hi, my name is Jennifer Alvarez 😊 and I love it!", "@jenny_smith91 my order never came")
    assert "Jennifer" not in out[0] and "Alvarez" not in out[0]
    assert out[0].startswith("Hi, my name is ") and out[0].endswith(" 😊 and I love it!")
    assert "jenny_smith91" not in out[1] and out[1].startswith("@") and out[1].endswith(" my order never came")
    assert deidentify("@jenny_smith91 my order never came") == [out[1]]  # the same handle, the same surrogate


def test_dishes_drinks_places_and_chains_off_the_catalog_survive_unchanged():
    texts = [
        "one Chai Latte please, and an Americano for my friend",  # drinks spaCy calls people
        "Lobster Bisque, Halibut and the Gravlax were all great.",  # dishes the catalog does not hold
        "Way better than the Khao Soi I had in Marietta last week.",  # a dish and a city
        "This place is like Chipotle, but better. Sweetgreen is still my favourite.",  # chains
        "We stayed at the Bellagio and drove in from Scottsdale.",  # a resort and a town
        "I'd like a lavender Earl Grey tea with Almond Milk.",  # a tea named after a man
        "Thanks to the server, the Christmas Eve dinner was perfect.",  # a holiday
    ]
    assert deidentify(*texts) == texts


def test_names_are_found_from_cues_and_lexicons_in_real_ordering_phrasings():
    texts = [
        "Can I get an mocha for Jean?",
        "I'd like a Latte please. The name is Ray.",
        "i want a latte it is for jay",
        "Okay. I just entered your order, Dan. Could you please confirm it?",
        "Best service ever, Maria our server was great.",
    ]
    out = deidentify(*texts)
    for text, name, rest in zip(
        out,
        ["Jean", "Ray", "jay", "Dan", "Maria"],
        ["Can I get an mocha for ", "The name is ", "it is for ", "your order, ", "Best service ever, "],
    ):
        assert name not in text.split() and name + "?" not in text and name + "." not in text and rest in text, text


def test_names_are_found_from_speech_speaker_labels_initials_and_rare_full_names():
    texts = {
        '"We are moving in that direction," says Koupil.': "Koupil",
        "Jaromir shouted at Beth: what are you doing here?": "Jaromir",
        "Ksenia: What a wife.\nMichael: Remember me?": "Ksenia",
        "Please add Bibulat Z. Sultygov as a guardian": "Sultygov",
        "Czcibor Borkowski will be talking in the conference": "Borkowski",
        "Teake Tuininga\nKURODA PRECISION INDUSTRIES": "Tuininga",
        "I would like to remove my kid Harwin from the account": "Harwin",
        "What's your last name? Mahler": "Mahler",
    }
    out = assert_removed(texts)
    assert out[5].endswith("\nKURODA PRECISION INDUSTRIES") and out[2].endswith(": Remember me?") and "\n" in out[2]
    kept = [
        "Con: spotty service.\nPro: the soup",
        "The menu says Vegan but it had cheese",
        "I want a Cortado with Hazlenut and oat milk.",
    ]
    assert deidentify(*kept)[1:] == kept[1:]


def test_names_are_found_in_lists_when_addressed_and_beside_initials_or_what_a_person_owns():
    texts = {
        "Remember me, Peter? I was your driver.": "Peter",  # a cocktail in the food lexicon, a name first
        "Our founders are Johannessen, Pugh and Chung.": "Chung",  # listed beside listed names
        "They had three kids: Pista, Gary and Dana.": "Pista",  # in a list no recognizer offered
        "Please add Časlav M Matković to my account": "Časlav",  # an initial without its dot
        "Kornelia shouted at Austin: not again!": "Austin",  # spoken to, not a town
        "I'm so jealous! said Calle to David": "David",
        "The true gender of Antonina was never settled.": "Antonina",  # "of" before a first name
        "Unlike the Kaczmarek novel, this one is short.": "Kaczmarek",  # a name as an adjective
        "hey its Raj Whitfield again, any update?": "Whitfield",
        "Loved the bowl. - deshawn jackson": "deshawn",  # a sign-off dash after a sentence
        "Serdar, can I please speak to your manager?": "Serdar",  # addressed, a word English hardly uses
        "My name is Rose Bunce but everyone calls me Rose": "Rose",
    }
    out = assert_removed(texts)
    possessive, initial = deidentify(
        "As promised, here's Hilmija's address:", "Have you been to a Leif I. Ranheim concert?"
    )
    assert (
        "Hilmija" not in possessive and possessive.startswith("As promised, here's ") and "'s address:" in possessive
    )
    assert "Ranheim" not in initial and re.search(r"a \w+ [A-Z]\. \w+ concert\?$", initial), initial
    assert out[9].startswith("Loved the bowl. - ")
    kept = [
        "Sadly, the soup was cold.",
        "We have Lipton, Bigelow and Mumi.",
        "Crostini that came with the salad was stale.",
        "I don't see Capuccino on the menu, do you mean Cortado?",
        "The Alexander was a fine cocktail.",
    ]
    assert deidentify(*kept) == kept
    addressed = deidentify("Thanks Maria, delicious food!")[0]
    assert "Maria" not in addressed and addressed.endswith(", delicious food!")


def test_names_are_found_from_where_they_stand_in_a_sentence_and_firms_and_foods_are_not():
    texts = {
        "Ondina began cooking when she was six.": "Ondina",  # the subject of a person's verb
        "It was a deal between him and Tavita's kids.": "Tavita",  # listed with a pronoun
        "We gave Cettina her refund yesterday.": "Cettina",  # given something of her own
        "Mr. Freeh ordered the soup again.": "Freeh",  # a title's full stop ends no sentence
        "Cocci and Rios ran the kitchen that night.": "Cocci",  # two surnames joined by "and"
        "Deguchi and Durham ran the kitchen that night.": "Durham",  # a town that is a surname too
        "I'm a huge Sonoka Miki fan.": "Sonoka",  # rare words, one English never uses
        "My name is My E Lundberg.": "Lundberg",  # an everyday first word, then an initial
        "Efimiya, could you check my order?": "Efimiya",  # addressed at the start
        "Louelle lives on the third floor.": "Louelle",
        "A track by ex-Zombie Bouts is on the playlist.": "Bouts",  # a former member
        "Unlike the Obad novel, it is short.": "Obad",
        "Nusi M Aranda picked it up.": "Aranda",
    }
    assert_removed(texts)
    kept = [
        "FinWise Bancorp approved the loan.",  # a firm's legal form
        "Nihon Seito Corporation makes the trays.",
        "Tahini and Sriracha were both on the side.",  # foods joined by "and"
        "Pho began as street food.",  # a food, though a verb of people follows
    ]
    assert deidentify(*kept) == kept
    name_and_address = deidentify("Tyler N. Stewart\n8038 76 College Avenue\nSuite 434")[0]
    assert "Stewart" not in name_and_address and "Tyler" not in name_and_address and "8038" not in name_and_address


def test_a_display_name_of_ordinary_words_changes_nothing_outside_that_name():
    meta = {"customer_name": "Dog Food Lover", "customer_email": "dfl@example.com"}
    texts = ["I feed my dog well and the food here is great.", "Dog Food Lover says: the french food here is great"]
    out = deidentify(*texts, meta=meta)
    assert out[0] == texts[0]
    assert out[1].endswith(" says: the french food here is great") and "Dog Food Lover" not in out[1]


def test_known_values_are_found_in_any_case_and_a_confirmed_first_name_alone():
    from etl.stages.deidentify.spans import known_value_hits

    values = ("Jordan Smith", "jordan.smith@example.com")

    def found(text: str) -> list[str]:
        return [text[h.start : h.end] for h in known_value_hits(text, values)]

    assert found("JORDAN SMITH here, mail me at Jordan.Smith@Example.com") == [
        "JORDAN SMITH",
        "Jordan.Smith@Example.com",
    ]
    assert found("thanks jordan!") == ["jordan"]
    assert found("no name in this turn") == [] and known_value_hits("Jordan", ()) == []
    # outside ASCII the regex judges case alone: the Kelvin sign is a capital K to it
    assert found("Ask for \u212aate") == [] and ["\u212aate Lee"] == [
        "\u212aate Lee"[h.start : h.end] for h in known_value_hits("\u212aate Lee", ("Kate Lee",))
    ]


# ------------------------------------------------------------------ cleaning keeps real text

REALTEXT = Path(__file__).parent / "data" / "realtext" / "taskmaster4_coffee_dev.jsonl"


def test_cleaning_drops_no_real_dialog_and_no_first_customer_turn():
    """1,000 crowd-written coffee orders (Taskmaster-4, CC BY 4.0): short, misspelt, lower-case
    English that a language guesser misreads. Each dialog, and its first customer turn alone
    (as short as a review gets), must survive cleaning."""
    from etl.config import CleanConfig
    from etl.stages.clean import CleanStage

    records = []
    for number, line in enumerate(REALTEXT.read_text(encoding="utf-8").splitlines(), start=1):
        dialog = json.loads(line)
        turns = [{"role": u["speaker"], "text": u["text"]} for u in dialog["utterances"]]
        records.append(make_record("chat", REALTEXT.name, number, dialog["conversation_id"], turns, {}))
        records.append(make_record("review", "first_turns.csv", number, dialog["conversation_id"], turns[:1], {}))
    result = CleanStage(CleanConfig()).apply(records_frame(records), lambda n: None)
    assert len(records) == 2000
    assert result.dropped.to_dicts() == []


# ------------------------------------------------------------------ names on real text, structured values in every format

GOLD = Path(__file__).parent / "data" / "realtext" / "pii_names_gold.jsonl"


def test_real_reviews_and_dialogs_lose_their_names_and_keep_everything_else():
    """The hand-labeled real set (1,000 review sentences, 3,766 dialog turns, 34 names): the
    replaced spans are names (precision >= 0.9) and the names are replaced (recall >= 0.95)."""
    import json

    from etl.stages.deidentify.engine import build_analyzer

    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
    found = build_analyzer(DEID, CATALOG).analyze_batch([r["text"] for r in rows])
    on_name = lambda r, s, e: any(min(e, b) - max(s, a) > (e - s) / 2 for a, b in r["names"])  # noqa: E731
    replaced = [
        (r, f) for r, hits in zip(rows, found) for f in hits if not any(a <= f.start < b for a, b in r["ignore"])
    ]
    right = sum(f.entity_type == "PERSON" and on_name(r, f.start, f.end) for r, f in replaced)
    names = [(r, a, b) for r in rows for a, b in r["names"]]
    covered = sum(
        any(f.entity_type == "PERSON" and f.start <= a and b <= f.end for f in hits)
        for (r, a, b), hits in ((n, found[rows.index(n[0])]) for n in names)
    )
    assert right / len(replaced) >= 0.9, [
        (f.entity_type, r["text"][f.start : f.end]) for r, f in replaced if not on_name(r, f.start, f.end)
    ]
    assert covered / len(names) >= 0.95
    # what a published example loses: a review is altered when any span in it is replaced, a
    # dialog when any of its turns is; every replaced span above is a name or on one
    altered = {r["id"].split("#")[0] for r, hits in zip(rows, found) if hits}
    reviews = sum(1 for r in rows if r["source"] == "yelp")
    dialogs = {r["id"].split("#")[0] for r in rows if r["source"] == "taskmaster4"}
    assert len({a for a in altered if a.startswith("yelp")}) <= 15 * reviews / 1000
    assert len(altered & dialogs) / len(dialogs) <= 0.08


def test_phone_numbers_of_every_format_and_multi_line_addresses_do_not_survive():
    leaks = {
        "Can someone call me on 052 948 46 74? Thanks": "052 948 46 74",
        "They're not answering at 9175 3554": "9175 3554",
        "Please have the manager call me at 03.91.12.17.13 today": "03.91.12.17.13",
        "Desk: 001-136-984-8578 \nFax: (031)951-0392x4517": "001-136-984-8578",
        "(86) 2515-9269-Office, 302-652-5610-Office": "2515-9269",
        "Mobile: +46 (0)8 704 655 72 after six": "704 655 72",
        "Deliver to 4 Oak Street\nApt 2B\nDecatur, GA\n30030-1234 please": "30030",
        "My address is 0189 Rue des Buissons 386\n Suite 559\n Runkelen\n Belgium 65601": "Buissons",
        "Name: Henrik Berg, SSN 078-05-1120": "Henrik",
    }
    out = assert_removed(leaks)
    assert "Apt 2B" not in out[6] and out[6].endswith(" please")


def test_a_local_number_after_a_phone_cue_goes_and_the_same_digits_elsewhere_stay():
    # seven or six digits are a phone number only right after a cue: without one
    # they are as often a price, a count or an order number
    out = assert_removed(
        {
            "Please call me at 85 99 60 tomorrow": "85 99 60",
            "Phone:\n 467 3395": "467 3395",
            "Text me on 555-0199 when it is ready": "555-0199",
        }
    )
    assert out[0].endswith(" tomorrow") and out[2].endswith(" when it is ready")
    kept = "The bowl was 12 99 and I ate 123 4567 times, order 884 2210 was late"
    assert deidentify(kept) == [kept]


def test_an_address_stops_at_the_line_a_phone_number_starts():
    # the postal-code pattern of the address reached into the next line and cut
    # the phone number in two, leaving its last groups in the text
    (out,) = deidentify("Kauppakatu 3\nKOUVOLA \n04621 56 80 46 office")
    address, phone = out.split("\n")
    assert "Kauppakatu" not in address and re.fullmatch(r"\d{5} \d\d \d\d \d\d office", phone), out
    assert "56 80 46" not in phone


def test_a_phone_number_before_a_sentence_is_no_street_and_surrogates_keep_their_spaces():
    # found by bench/e2e.py at 100,000 records: the last digit group of a phone
    # number started a "street" ("9999 Love this place"), and the two
    # overlapping surrogates were glued into one long digit run
    out = deidentify(
        "Call me on +1 999 999 9999 Love this place, the food is great.",
        "Reach me at (415) 555-0199 nice place though",
        "Text 415 555 0199 thanks. 12 Oak Street is my address",
        # real Yelp sentences after a phone number, from the same benchmark at 100,000 records
        "or +1 470 603 5460 Great steak, great sides, great wine, amazing desserts",
        "the phone number is +1 678 854 1512 TOTAL WASTE OF TIME. I'd like a Latte please",
    )
    assert out[3].endswith(" Great steak, great sides, great wine, amazing desserts") and "5460" not in out[3]
    assert out[4].endswith(" TOTAL WASTE OF TIME. I'd like a Latte please") and "1512" not in out[4]
    assert out[0].endswith(" Love this place, the food is great.") and "9999" not in out[0]
    assert out[1].endswith(" nice place though") and "0199" not in out[1]
    assert out[2].split(" thanks. ")[1].endswith(" is my address") and "Oak" not in out[2]
    for text in out:
        assert not re.search(r"\d{9}", text), text


def test_overlapping_spans_of_two_types_are_cut_apart_at_a_word_boundary():
    text = "ring +1 999 999 9999 Love Lane now"
    phone = RecognizerResult("PHONE_NUMBER", 5, 20, 0.75)
    street = RecognizerResult("STREET_ADDRESS", 16, 30, 0.65)
    inner = RecognizerResult("PERSON", 21, 25, 0.9)
    spans = separate_overlaps(text, [street, phone, inner])
    # the street lost its number to the phone: "Love Lane" alone is no address
    assert [(r.entity_type, text[r.start : r.end]) for r in spans] == [("PHONE_NUMBER", "+1 999 999 9999")]

    text = "Ann Berg Suite 241 12 Oak Street"
    person = RecognizerResult("PERSON", 0, 14, 0.85)  # a name grown over "Suite"
    address = RecognizerResult("STREET_ADDRESS", 9, 32, 0.6)
    spans = separate_overlaps(text, [person, address])
    assert [(r.entity_type, text[r.start : r.end]) for r in spans] == [
        ("PERSON", "Ann Berg"),
        ("STREET_ADDRESS", "Suite 241 12 Oak Street"),
    ]


def test_street_addresses_of_other_countries_do_not_survive_and_place_names_in_prose_do():
    leaks = {
        "Send it to 42486 Stensås terrasse 38\n Apt. 114\n ARENDAL\n Norway 69239": "Stensås",
        "I moved to Rákóczi út 41. last spring": "Rákóczi",
        "The shop is at 46 rue Nationale, 75013 Paris": "Nationale",
        "Mail it to P.O. Box 7788, Springfield": "7788",
        "My place is on Amelia Center Street, near the park": "Amelia Center",
    }
    assert_removed(leaks)
    kept = [
        "We drove up Peachtree Street to the Midtown store",
        "Lunch on Main Street was great, the ramen in Paris too",
    ]
    assert deidentify(*kept) == kept


# ------------------------------------------------------------------ every real conversation becomes training data


def test_real_ordering_dialogs_become_examples_and_the_rest_have_reasons(tmp_path):
    """The 1,000 Taskmaster-4 coffee-ordering dialogs as a chat export, through the whole
    pipeline: at least 80% reach a published example (order_support or customer_service,
    the barista's turns as targets), and every one that does not is in the run's dropped
    rows (records or examples) with a reason."""
    import json

    from etl.store import Store

    chats = []
    for line in REALTEXT.read_text(encoding="utf-8").splitlines():
        dialog = json.loads(line)
        messages = [
            {"role": "customer" if u["speaker"] == "user" else "agent", "text": u["text"]}
            for u in dialog["utterances"]
        ]
        chats.append(
            json.dumps(
                {
                    "conversation_id": dialog["conversation_id"],
                    "started_at": "2024-03-01T09:00:00Z",
                    "messages": messages,
                }
            )
        )
    write(tmp_path / "chats.jsonl", "\n".join(chats) + "\n")
    for name in ("menu.yaml", "stores.yaml"):
        shutil.copy(SAMPLE / name, tmp_path / name)
    write(
        tmp_path / "pipeline.yaml",
        "dataset: coffee\nstore: store\nsources:\n  chats: chats.jsonl\n"
        "catalog:\n  menu: menu.yaml\n  stores: stores.yaml\ndeidentify:\n  allow_dev_key: true\n",
    )
    summary = run_pipeline(load_config(tmp_path / "pipeline.yaml"))
    assert summary.invariant_holds, summary.invariant_errors

    published = Store(tmp_path / "store", "coffee").examples("latest")
    dialog_ids = {json.loads(c)["conversation_id"] for c in chats}
    records = pl.read_parquet(Path(summary.run_dir) / "stages" / "01_ingest.parquet").select(
        "record_id", source_id=pl.col("meta").struct.field("native_id")
    )
    used = set(records.join(published.select("record_id").unique(), on="record_id")["source_id"])
    assert len(used & dialog_ids) >= 0.8 * len(dialog_ids), (
        len(used & dialog_ids),
        [(s.stage, s.dropped_by_reason) for s in summary.stages],
    )
    assert set(published["task"]) >= {"order_support", "customer_service"}

    dropped = pl.read_parquet(Path(summary.run_dir) / "dropped.parquet")  # records and examples alike
    explained = set(records.join(dropped.select("record_id").unique(), on="record_id")["source_id"])
    assert dialog_ids - used <= explained
    assert dropped["reason"].null_count() == 0 and set(dropped["unit"]) <= {"raw rows", "records", "examples"}


def test_ner_reads_only_the_sentences_where_a_name_could_be():
    """The NER model skips sentences whose only capital is an everyday word starting them (or "I",
    or a shouted word), and reads those with any other capital or a lower-case first name; a name
    in a later sentence is replaced as before, and the review around it is untouched."""
    from etl.stages.deidentify.engine import build_analyzer
    from etl.stages.deidentify.ner_scope import ner_stretches

    analyzer = build_analyzer(DEID, CATALOG)

    def read(text: str) -> list[str]:
        return [text[s:e] for s, e in ner_stretches(text, analyzer.everyday, analyzer.first_name)]

    assert read("The soup was cold. Great service! I loved it. AMAZING") == []
    assert read("The soup was cold. Ask for Dana, she rocks. Food was fine.") == [" Ask for Dana, she rocks."]
    assert read("Loved it.\n- deshawn johnson") == ["- deshawn johnson"]
    assert read("Will was our server. The pie was good.") == ["Will was our server."]  # "will" is a first name
    assert read("We went to Midtown. We loved it. Thanks Dana!") == ["We went to Midtown.", " Thanks Dana!"]

    text = "The food was great. Service was slow. Thanks to Maria Gonzalez for the help!"
    (found,) = analyzer.analyze_batch([text])
    assert [(r.entity_type, text[r.start : r.end]) for r in found] == [("PERSON", "Maria Gonzalez")]
    signed = "Loved the Peachtree Power Bowl from the Midtown store. - megan johnson"
    (found,) = analyzer.analyze_batch([signed])
    assert [(r.entity_type, signed[r.start : r.end]) for r in found] == [("PERSON", "megan johnson")]
