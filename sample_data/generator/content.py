"""What customers and staff say: reviews, chat conversations, call transcripts and FAQs.

Each generator takes a seeded `random.Random` and a `Planted` collector, and
records every personal value it writes into free text, so tests can later
check that none of them survives de-identification.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import voice
from .catalog import BUSINESS, DISHES, STORES

DISH_NAMES = [d[0] for d in DISHES]
STORE_NAMES = [s[0] for s in STORES]


@dataclass
class Planted:
    """Everything planted on purpose, for sample_data/README.md and for tests."""

    pii: dict[str, list[str]] = field(
        default_factory=lambda: {
            "PERSON": [],
            "EMAIL_ADDRESS": [],
            "PHONE_NUMBER": [],
            "STREET_ADDRESS": [],
            "CREDIT_CARD": [],
            "ORDER_NUMBER": [],
            "LOYALTY_NUMBER": [],
        }
    )
    malformed: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # (source, native id of the copy, native id of the original, "exact" | "near")
    duplicates: list[dict] = field(default_factory=list)

    def duplicate(self, source: str, copy: str, original: str, kind: str) -> None:
        self.duplicates.append({"source": source, "copy": copy, "original": original, "kind": kind})

    def value(self, kind: str, value: str) -> str:
        self.pii[kind].append(value)
        return value

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def bad(self, file: str, line: int, code: str, what: str) -> None:
        self.malformed.append({"file": file, "line": line, "error_code": code, "what": what})


def dish_facts(name: str) -> dict:
    for dish in DISHES:
        if dish[0] == name:
            _, description, ingredients, tags, allergens, calories, protein, price = dish
            return {
                "name": name,
                "description": description,
                "ingredients": ingredients,
                "tags": tags,
                "allergens": allergens,
                "calories": calories,
                "protein": protein,
                "price": price,
            }
    raise KeyError(name)


# ---------------------------------------------------------------- reviews

POSITIVE_OPEN = [
    "Honestly the {dish} is {good}.",
    "Been ordering the {dish} for {weeks} weeks now and it never disappoints.",
    "ok so the {dish} is {good}",
    "Tried the {dish} for the first time today and wow.",
    "The {dish} is my go-to lunch.",
    "Five stars for the {dish}.",
    "My husband and I split the {dish} and it was {good}.",
    "I was skeptical about meal prep but the {dish} changed my mind.",
    "Picked up the {dish} from the {store} location.",
]
POSITIVE_BODY = [
    "The portion is huge for the price.",
    "Everything tasted fresh, not like it sat in a fridge for days.",
    "{protein}g of protein for {calories} calories is perfect for my cut.",
    "The sauce is really good, not too salty.",
    "Reheats really well in the microwave, 2 minutes and done.",
    "Staff at {store} were super friendly.",
    "Love that the macros are printed right on the label.",
    "It keeps me full until dinner which is rare for me.",
    "My kids even ate it and they hate anything healthy.",
    "Pickup was quick, in and out in 5 min.",
]
NEGATIVE_OPEN = [
    "The {dish} was {bad}.",
    "Really disappointed with the {dish} this week.",
    "Not ordering the {dish} again.",
    "Something is off with the {dish} lately.",
    "I usually love this place but the {dish} was {bad}.",
]
NEGATIVE_BODY = [
    "The chicken was dry and the rice was hard.",
    "Delivery showed up 45 minutes late and everything was cold.",
    "They forgot the sauce AGAIN.",
    "Way too salty, I couldn't finish it.",
    "The portion was half of what it used to be.",
    "It says {protein}g protein but it definitely did not feel like it.",
    "The container was leaking all over the bag.",
    "I have a {allergen} allergy and there was no warning on the label.",
    "For ${price} I expected a lot more.",
    "The {store} store was out of it and nobody told me until I got there.",
]
NEUTRAL = [
    "The {dish} was fine. Nothing special but it did the job.",
    "Decent {dish}, a bit bland, needed hot sauce.",
    "It's ok. Good macros, taste is average.",
    "The {dish} was good but the price went up again.",
    "Solid meal, delivery was late though.",
    "Not bad, not amazing. Would try something else next time.",
]
CLOSE_GOOD = [
    "Will order again!",
    "10/10 recommend.",
    "Keep it up!",
    "Already ordered next week's.",
    "",
    "",
    "Thank you!",
]
CLOSE_BAD = [
    "Fix this please.",
    "Not worth it.",
    "Disappointed.",
    "Probably cancelling my subscription.",
    "",
    "Do better.",
]
GOOD = ["amazing", "so good", "delicious", "fire", "incredible", "really tasty", "legit"]
BAD = ["cold", "bland", "soggy", "dry", "tiny", "way too salty", "not fresh"]


def review_text(rng: random.Random, dish: str, store: str, rating: int, author: voice.Person, planted: Planted) -> str:
    facts = dish_facts(dish)
    fill = {
        "dish": dish,
        "store": store,
        "weeks": rng.randrange(2, 30),
        "good": rng.choice(GOOD),
        "bad": rng.choice(BAD),
        "protein": facts["protein"],
        "calories": facts["calories"],
        "price": f"{facts['price']:.2f}",
        "allergen": rng.choice(facts["allergens"] or ["nut"]),
    }
    if rating >= 4:
        parts = [rng.choice(POSITIVE_OPEN), *rng.sample(POSITIVE_BODY, rng.randrange(1, 4)), rng.choice(CLOSE_GOOD)]
    elif rating == 3:
        parts = [rng.choice(NEUTRAL), *rng.sample(POSITIVE_BODY + NEGATIVE_BODY, rng.randrange(0, 2))]
    else:
        parts = [rng.choice(NEGATIVE_OPEN), *rng.sample(NEGATIVE_BODY, rng.randrange(1, 3)), rng.choice(CLOSE_BAD)]
    parts.append(review_pii(rng, author, planted))
    text = " ".join(p.format(**fill) for p in parts if p)
    return voice.casual(text, rng, happy=rating >= 4)


def review_pii(rng: random.Random, author: voice.Person, planted: Planted) -> str:
    """About one review in eight gives away something personal, the way people do."""
    roll = rng.random()
    if roll < 0.03:
        return f"- {planted.value('PERSON', author.name)}"
    if roll < 0.05:
        return f"Email me at {planted.value('EMAIL_ADDRESS', author.email)} if you want more feedback."
    if roll < 0.07:
        return f"Order {planted.value('ORDER_NUMBER', voice.order_number(rng))} was the one with the problem."
    if roll < 0.09:
        return f"Delivered to {planted.value('STREET_ADDRESS', author.address)} and the driver was great."
    if roll < 0.105:
        return f"Call me at {planted.value('PHONE_NUMBER', author.phone)}, I never heard back."
    if roll < 0.115:
        return f"They charged my card {planted.value('CREDIT_CARD', voice.luhn_card(rng))} twice!!"
    if roll < 0.125:
        return f"My rewards number is {planted.value('LOYALTY_NUMBER', voice.loyalty_number(rng))} and the points never showed up."
    return ""


NON_ENGLISH_REVIEWS = [
    "La comida estaba deliciosa y llegó a tiempo. Muy recomendado para toda la familia.",
    "El pollo estaba seco y la porción muy pequeña para el precio que pagamos.",
    "C'est trop cher pour ce que c'est, et la livraison était en retard encore une fois.",
    "Comida muito boa, mas a entrega demorou demais. Vou pedir de novo mesmo assim.",
    "Das Essen war kalt und die Lieferung kam viel zu spät an.",
    "Me encantó el bowl de quinoa, pero le faltaba un poco de sal y salsa.",
    "Très bon repas, frais et copieux, je recommande vivement ce restaurant.",
    "Il cibo era buono ma la porzione era davvero troppo piccola per il prezzo.",
]
JUNK_REVIEWS = [
    "!!!!!!!!!!!!!!!!!!!!!!!!",
    "$$$ ### %%% @@@ ^^^ *** &&& $$$",
    "good good good good good good good good good good",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaah so good",
]
ONE_WORD = ["Great", "meh", "Yum!", "ok", "Mid", "Perfect."]
HTML_REVIEWS = [
    "<p>Loved the <b>{dish}</b>!</p><p>Will be back next week.</p>",
    "Great food &amp; fast pickup.<br/>The {dish} is the best thing on the menu.",
    '<div class="review-body">The {dish} was cold when it arrived &#8212; not happy.</div>',
    "Really good portion size <br> and the {dish} tastes homemade &#128077;",
]


def near_duplicate(text: str, rng: random.Random) -> str:
    """A light edit, as when a customer re-posts a review with a small change."""
    edits = [
        lambda t: t.replace(".", "!", 1),
        lambda t: t + " Thanks!",
        lambda t: t.replace(" the ", " that ", 1),
        lambda t: t.rstrip("!.") + ".",
        lambda t: t.replace("really", "so", 1) if "really" in t else t + " :)",
    ]
    changed = rng.choice(edits)(text)
    return changed if changed != text else text + " Again."


# ---------------------------------------------------------------- conversations


def _fits(need: str, facts: dict) -> bool:
    if need.startswith("no "):
        return need[3:] not in facts["allergens"]
    return need in facts["tags"]


def recommend(rng: random.Random, need: str) -> str:
    options = [d for d in DISH_NAMES if _fits(need, dish_facts(d))]
    return rng.choice(options)


NEEDS = {
    "keto": "I'm doing keto, what should I get?",
    "vegan": "what do you have that's vegan?",
    "high-protein": "I just finished a workout, need something high protein",
    "paleo": "any paleo options this week?",
    "gluten-free": "I'm celiac, which meals are gluten free?",
    "no peanuts": "my son has a peanut allergy, what's safe for him?",
    "no dairy": "I'm lactose intolerant, anything without dairy?",
    "vegetarian": "looking for a vegetarian dinner option",
    "no shellfish": "I'm allergic to shellfish, what can I eat?",
    "no wheat": "I can't have wheat, any ideas?",
}


def menu_question_turns(rng: random.Random, dish: str) -> list[tuple[str, str]]:
    facts = dish_facts(dish)
    kind = rng.randrange(4)
    if kind == 0:
        ask = f"what's in the {dish}?"
        answer = f"The {dish} has {', '.join(facts['ingredients'][:-1])} and {facts['ingredients'][-1]}. {facts['description']}"
    elif kind == 1:
        ask = f"how many calories is the {dish}? and protein?"
        answer = f"The {dish} is {facts['calories']} calories with {facts['protein']}g of protein."
    elif kind == 2:
        allergens = facts["allergens"]
        ask = f"does the {dish} have any allergens?"
        answer = (
            f"The {dish} contains {', '.join(allergens)}."
            if allergens
            else f"The {dish} is free of the major allergens, and it's prepared in a kitchen that handles nuts and dairy."
        )
    else:
        ask = f"how much is the {dish}"
        answer = f"The {dish} is ${facts['price']:.2f}, and it's {facts['calories']} calories."
    return [("customer", ask), ("bot", answer)]


def chat_turns(rng: random.Random, customer: voice.Person, planted: Planted) -> tuple[list[tuple[str, str]], str]:
    """A conversation that goes somewhere; returns its messages and its kind."""
    kind = rng.choices(["menu", "recommend", "order", "store"], weights=[3, 3, 3, 1])[0]
    greet = rng.choice(["hi", "hello", "hey there", "Hi!", "good morning", "yo", ""])
    turns: list[tuple[str, str]] = []
    if greet:
        turns += [("customer", greet), ("bot", f"Hi! Welcome to {BUSINESS}. How can I help you today?")]
    if kind == "menu":
        dish = rng.choice(DISH_NAMES)
        turns += menu_question_turns(rng, dish)
        if rng.random() < 0.5:
            turns += menu_question_turns(rng, dish)
        turns += [
            ("customer", rng.choice(["ok thanks", "perfect, thank you!", "cool", "got it thx"])),
            ("bot", "You're welcome! Anything else I can help with?"),
        ]
    elif kind == "recommend":
        need = rng.choice(list(NEEDS))
        dish = recommend(rng, need)
        facts = dish_facts(dish)
        turns += [
            ("customer", NEEDS[need]),
            (
                "bot",
                f"I'd recommend the {dish}: {facts['description']} It's {facts['calories']} calories with "
                f"{facts['protein']}g of protein"
                + (f" and it fits {need}." if not need.startswith("no ") else f" and has no {need[3:]}."),
            ),
        ]
        if rng.random() < 0.6:
            turns += [("customer", "how much is it?"), ("bot", f"It's ${facts['price']:.2f}.")]
        if rng.random() < 0.5:
            name = planted.value("PERSON", customer.name)
            turns += [
                ("customer", f"great, add 2 to my order. name is {name}"),
                (
                    "bot",
                    f"Done! Two {dish} meals are in your cart, {customer.first}. You can check out whenever you're ready.",
                ),
            ]
    elif kind == "order":
        turns += order_support_turns(rng, customer, planted, speaker_bot="bot")
    else:
        store = rng.choice(STORES)
        turns += [
            ("customer", f"what time does the {store[0]} store close?"),
            ("bot", f"{BUSINESS} {store[0]} at {store[1]} is open {store[6]}."),
        ]
    return [(role, voice.casual(text, rng) if role == "customer" else text) for role, text in turns], kind


def order_support_turns(
    rng: random.Random, customer: voice.Person, planted: Planted, speaker_bot: str
) -> list[tuple[str, str]]:
    order = planted.value("ORDER_NUMBER", voice.order_number(rng))
    problem = rng.randrange(5)
    agent = "agent" if speaker_bot == "bot" and rng.random() < 0.5 else speaker_bot
    if problem == 0:
        return [
            ("customer", f"where is my order? it's {order} and it was supposed to be here an hour ago"),
            (speaker_bot, "I'm sorry about the wait! Let me check on that for you."),
            (agent, f"Order {order} is with the driver now and should arrive in about 15 minutes."),
            ("customer", "ok thanks"),
        ]
    if problem == 1:
        address = planted.value("STREET_ADDRESS", customer.address)
        return [
            ("customer", f"can I change the delivery address for {order}?"),
            (speaker_bot, "Sure, what's the new address?"),
            ("customer", f"{address}"),
            (agent, "Got it, the delivery address is updated. Anything else?"),
            ("customer", "nope that's it"),
        ]
    if problem == 2:
        dish = rng.choice(DISH_NAMES)
        return [
            ("customer", f"my order {order} was missing the {dish}"),
            (
                speaker_bot,
                "I'm really sorry about that. I can refund it or send a replacement with your next delivery.",
            ),
            ("customer", "refund please"),
            (agent, f"Done, the refund for the {dish} is on its way and should show up in 3-5 business days."),
        ]
    if problem == 3:
        card = planted.value("CREDIT_CARD", voice.luhn_card(rng))
        return [
            ("customer", f"I need to update my card, the new one is {card}"),
            (
                speaker_bot,
                "For your security please don't share card numbers in chat. You can update payment under Account > Billing.",
            ),
            ("customer", "oh ok sorry"),
        ]
    email = planted.value("EMAIL_ADDRESS", customer.email)
    phone = planted.value("PHONE_NUMBER", customer.phone)
    return [
        ("customer", f"please cancel order {order}, I'm traveling this week"),
        (speaker_bot, "No problem. Can you confirm the email or phone on the account?"),
        ("customer", f"{email} or {phone}"),
        (agent, f"Thanks! Order {order} is cancelled and you won't be charged."),
    ]


SPANISH_CHAT = [
    ("customer", "hola, ¿tienen opciones veganas esta semana?"),
    ("bot", "Hi! Yes, the Vegan Buddha Bowl and the Lentil Shepherd's Pie are both vegan."),
    ("customer", "gracias, ¿y cuánto cuesta el bowl de quinoa con garbanzos?"),
]


# ---------------------------------------------------------------- calls

FILLERS = ["um, ", "uh, ", "yeah so ", "okay so ", "", "", "", ""]


def call_lines(rng: random.Random, agent: str, customer: voice.Person, planted: Planted) -> list[tuple[str, str]]:
    lines = [("AGENT", f"Thank you for calling {BUSINESS}, this is {agent}, how can I help you?")]
    name = planted.value("PERSON", customer.name)
    lines.append(("CUSTOMER", f"{rng.choice(FILLERS)}hi, this is {name}."))
    kind = rng.randrange(3)
    if kind == 0:
        lines += [
            (("AGENT" if r in ("bot", "agent") else "CUSTOMER"), t)
            for r, t in order_support_turns(rng, customer, planted, "agent")
        ]
    elif kind == 1:
        need = rng.choice(list(NEEDS))
        dish = recommend(rng, need)
        facts = dish_facts(dish)
        lines += [
            ("CUSTOMER", f"{rng.choice(FILLERS)}{NEEDS[need]}"),
            (
                "AGENT",
                f"Sure! A lot of people like the {dish}. It's {facts['calories']} calories, {facts['protein']} grams of protein, and it's ${facts['price']:.2f}.",
            ),
            ("CUSTOMER", "oh that sounds good, can I get three of those for pickup?"),
            ("AGENT", f"Absolutely. Which store, {rng.choice(STORE_NAMES)} or {rng.choice(STORE_NAMES)}?"),
            (
                "CUSTOMER",
                f"{rng.choice(STORE_NAMES)} please, and the phone number is {planted.value('PHONE_NUMBER', customer.phone)}",
            ),
            ("AGENT", "Perfect, you'll get a text when it's ready."),
        ]
    else:
        loyalty = planted.value("LOYALTY_NUMBER", voice.loyalty_number(rng))
        lines += [
            ("CUSTOMER", f"{rng.choice(FILLERS)}my rewards points didn't post, my member number is {loyalty}"),
            ("AGENT", "Let me look that up. I see the last two orders didn't sync, I'll add those points now."),
            ("CUSTOMER", "thank you so much"),
            ("AGENT", "Of course! Anything else I can do for you today?"),
            ("CUSTOMER", "no that's all, bye"),
        ]
    return [(speaker, voice.casual(text, rng, 0.02) if speaker == "CUSTOMER" else text) for speaker, text in lines]


# ---------------------------------------------------------------- FAQs

FAQ_BASE = {
    "Ordering": [
        (
            "How do I place an order?",
            "Order on our website or app by Sunday 11:59pm for delivery or pickup the following week. You can also call any store.",
        ),
        (
            "What is the order cutoff for next week?",
            "Orders close every Sunday at 11:59pm Eastern. Anything placed later goes into the following week.",
        ),
        (
            "Can I change my order after I place it?",
            "Yes. You can edit meals and quantities until the Sunday cutoff under My Orders.",
        ),
        ("Is there a minimum order?", "Delivery orders need at least 5 meals. Pickup orders have no minimum."),
        (
            "Can I order for a group or office?",
            "Yes! For 20 or more meals, email our catering team and we'll set up a group order with a 10% discount.",
        ),
        ("Do you offer gift cards?", "Digital gift cards from $25 to $200 are available on our website."),
        ("Can I skip a week?", "Subscribers can skip any week from the Subscription page before the Sunday cutoff."),
    ],
    "Delivery & Pickup": [
        (
            "Where do you deliver?",
            "We deliver across metro Atlanta inside I-285, plus Decatur, Smyrna and East Point.",
        ),
        (
            "When are deliveries made?",
            "Deliveries go out Monday and Thursday between 8am and 2pm. You'll get a text with a 2-hour window.",
        ),
        ("How much is delivery?", "Delivery is $4.99, free on orders of 10 meals or more."),
        (
            "Can I pick up my meals instead?",
            "Yes, choose pickup at checkout and pick a store: Midtown, Decatur, Buckhead or Old Fourth Ward.",
        ),
        (
            "What if I'm not home for delivery?",
            "Meals come in an insulated bag with ice packs and stay cold for about 6 hours.",
        ),
        (
            "My delivery is late, what do I do?",
            "Check the tracking link in your text first. If it's more than 30 minutes past your window, chat with us and we'll sort it out.",
        ),
        (
            "Do I need to return the cooler bag?",
            "Leave it out on your next delivery day and the driver picks it up. Returned bags earn 50 reward points.",
        ),
    ],
    "Menu & Nutrition": [
        (
            "How often does the menu change?",
            "We rotate about a third of the menu every month and keep customer favourites like the Peachtree Power Bowl year round.",
        ),
        (
            "Are the nutrition facts accurate?",
            "Macros are calculated by our dietitian from weighed recipes. Real portions can vary by about 10%.",
        ),
        (
            "Do you have keto meals?",
            "Yes. Look for the keto tag: for example the Keto Chicken Alfredo Zoodles and the Keto Egg Roll in a Bowl.",
        ),
        (
            "Do you have vegan meals?",
            "Every week we have at least five vegan meals, like the Vegan Buddha Bowl and the Quinoa Stuffed Peppers.",
        ),
        (
            "Which meals are high in protein?",
            "Meals tagged high-protein have 30g or more, such as the Steak & Sweet Potato Mash with 47g.",
        ),
        (
            "How long do the meals last?",
            "Meals stay fresh for 5 days in the fridge. You can freeze most of them for up to 3 months.",
        ),
        (
            "How do I reheat my meals?",
            "Remove the lid and microwave for 2 to 3 minutes, or heat in the oven at 350F for 15 minutes.",
        ),
        (
            "Are your ingredients organic?",
            "We use organic produce when it's in season and source our chicken from Georgia farms.",
        ),
        ("Do you use seed oils?", "We cook with olive oil and avocado oil only."),
        (
            "Can I see the full ingredient list?",
            "Every meal page lists all ingredients and allergens, and so does the label on each container.",
        ),
    ],
    "Allergies & Diets": [
        (
            "Do you accommodate food allergies?",
            "Every meal lists its allergens. Our kitchen handles peanuts, tree nuts, dairy, eggs, fish, shellfish, soy and wheat, so we can't guarantee zero cross-contact.",
        ),
        (
            "Are your gluten-free meals safe for celiacs?",
            "Gluten-free meals are made without gluten ingredients, but they're prepared in a shared kitchen.",
        ),
        (
            "Can I remove an ingredient from a meal?",
            "We can't customise single meals right now, but you can filter the menu by allergen.",
        ),
        (
            "Do you have nut-free options?",
            "Yes, filter by 'no tree nuts' and 'no peanuts'. Most of our bowls are nut free.",
        ),
        (
            "Are there low-carb options?",
            "The low-carb tag marks meals under 20g net carbs, like the Cauliflower Fried Rice.",
        ),
        (
            "Do you have meals for diabetics?",
            "Our dietitian recommends the low-carb and high-protein meals, but please check with your doctor.",
        ),
    ],
    "Subscriptions & Rewards": [
        (
            "How does the subscription work?",
            "Pick 5, 10 or 15 meals a week and save 10%. You can change meals, skip or pause anytime before the cutoff.",
        ),
        (
            "How do I cancel my subscription?",
            "Go to Account > Subscription > Cancel. There's no fee and you keep any meals already ordered.",
        ),
        ("How do rewards points work?", "You earn 1 point per dollar. 100 points gets you $5 off."),
        (
            "Where do I find my rewards number?",
            "Your member number is in the app under Rewards, and on every receipt.",
        ),
        ("Do points expire?", "Points expire after 12 months without an order."),
        ("Can I pause my subscription?", "Yes, you can pause for up to 8 weeks from the Subscription page."),
    ],
    "Payments & Refunds": [
        (
            "What payment methods do you take?",
            "All major credit and debit cards, Apple Pay, Google Pay and Healthy Bites gift cards.",
        ),
        (
            "When am I charged?",
            "Subscriptions are charged on Monday for that week's meals. One-time orders are charged at checkout.",
        ),
        (
            "What if a meal is missing or wrong?",
            "Tell us within 48 hours in chat or by phone and we'll refund it or replace it with your next delivery.",
        ),
        ("How long do refunds take?", "Refunds show up on your card in 3 to 5 business days."),
        ("Is tipping the driver possible?", "Yes, you can add a tip at checkout and 100% goes to the driver."),
        ("Do you charge sales tax?", "Yes, Georgia sales tax applies to all orders."),
    ],
}
