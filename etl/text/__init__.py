"""Shared text rules: what several stages read about a text, below every stage.

- `facts`: the protected facts of a customer turn (augmentation keeps them, semantic dedup
  never groups questions that state different ones);
- `people`: the name lexicon and the everyday words that are names only when capitalised;
- `phrases`: food and drink, companies, places and the thesaurus (`lexicons/` holds the lists).
"""
