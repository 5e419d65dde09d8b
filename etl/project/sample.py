"""The sample-data generator, found beside the package in a source checkout.

The generator (`sample_data/generator/`: a meal-prep company's menu, reviews, chats, FAQs
and calls, with planted personal data and malformed rows) is development fixture code, not
part of the installed package: `etl sample-data`, the tests and the benchmarks load it from
the checkout, and an installed `etl` without one says where to get it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from etl.errors import ConfigError

# etl/project/sample.py -> the checkout's root (an editable install points into it)
CHECKOUT = Path(__file__).resolve().parents[2]
GENERATOR = CHECKOUT / "sample_data" / "generator"
MODULE = "sample_data_generator"


def load_generator() -> ModuleType:
    """The generator package (its `write_sample_data`, `voice`, `content`, `catalog`)."""
    if MODULE in sys.modules:
        return sys.modules[MODULE]
    init = GENERATOR / "__init__.py"
    if not init.is_file():
        raise ConfigError(
            f"etl sample-data needs the sample generator, which ships with the source checkout "
            f"(sample_data/generator/), not with the installed package; none at {GENERATOR}. "
            "Run it from a clone of the repository installed with `pip install -e .`."
        )
    spec = importlib.util.spec_from_file_location(MODULE, init, submodule_search_locations=[str(GENERATOR)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module  # before running it: its modules import each other relatively
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[MODULE]
        raise
    return module


def write_sample_data(out: Path, scale: int = 1, seed: int = 7) -> dict[str, int]:
    """The generator's corpus written to `out`: file name -> rows."""
    return load_generator().write_sample_data(out, scale=scale, seed=seed)
