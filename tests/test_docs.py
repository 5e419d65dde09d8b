"""The docs are written from the code, so they cannot drift from it.

- The block between the `sample-run` markers in README.md is rendered from a run of the
  sample; a test fails when the pipeline's output and the README disagree.
- docs/config-reference.md is rendered from the pydantic models of pipeline.yaml and
  train.yaml: every key, its type, default and meaning (the field's description, else the
  comment written above it in etl/config/ or train/config.py). A test fails when the page
  is stale, when a key has no meaning written, or when docs/configuration.md's annotated
  pipeline shows a key the models do not have.

To rewrite both after a change: `.venv/bin/python tests/test_docs.py`.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import sys
import tokenize
import typing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
REFERENCE = REPO / "docs" / "config-reference.md"
CONFIGURATION = REPO / "docs" / "configuration.md"
BLOCK = re.compile(r"(<!-- sample-run:begin[^\n]*-->\n)(.*?)(<!-- sample-run:end -->)", re.DOTALL)


def render(summary) -> str:
    """The README block for a run summary (etl.run.runner.RunSummary)."""
    lines = [
        "| what | count |",
        "|---|---|",
        f"| raw rows read (records, quarantined rows and empty files) | {summary.rows_in:,} |",
        f"| quarantined at ingest | {summary.quarantine['rows']:,} |",
        f"| records kept to the end | {summary.rows_kept:,} |",
        f"| records dropped, every one with a stage and a reason | {summary.rows_dropped:,} |",
        f"| examples built | {summary.examples_built:,} |",
        f"| variants of train examples (augment) | {sum(sum(m.values()) for m in summary.augmentation.get('variants', {}).values()):,} |",
        f"| examples synthesised from the catalog (train) | {sum(sum(i.values()) for i in summary.synthesis.get('examples', {}).values()):,} |",
        f"| examples published | {sum(sum(s.values()) for s in summary.examples.values()):,} |",
    ]
    for task, splits in sorted(summary.examples.items()):
        total = sum(splits.values())
        lines.append(
            f"| `{task}`: train / eval | {splits.get('train', 0):,} / {splits.get('eval', 0):,} ({splits.get('eval', 0) / total:.1%} eval) |"
        )
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lacks the <!-- sample-run:begin --> ... <!-- sample-run:end --> block"
    return match.group(2)


def test_readme_sample_figures_come_from_the_run(sample_run):
    expected = render(sample_run)
    assert readme_block() == expected, (
        f"README.md's sample figures are stale; run `.venv/bin/python tests/test_docs.py`, or paste:\n{expected}"
    )


def test_ci_runs_exactly_the_readmes_two_commands_and_the_readme_stays_short():
    commands = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL).group(1).splitlines()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-2:]
    # the main job first, then the tests: the suite must pass after a newcomer ran line 1
    assert len(commands) == 2 and commands == ci
    assert len(README.read_text(encoding="utf-8").splitlines()) < 300
    for page in re.findall(r"\]\(((?:docs/|bench/|ARCHITECTURE)[^)#]*)", README.read_text(encoding="utf-8")):
        assert (REPO / page).is_file(), page


# ------------------------------------------------------------------ the configuration reference


def _comments(cls) -> tuple[dict[int, tuple[str, bool]], dict[str, tuple[int, int]]]:
    """The class's comments by source line (text, whether the line is only a comment), and
    each field's first and last line."""
    source = inspect.getsource(cls)
    comments = {
        token.start[0]: (token.string.lstrip("#").strip(), token.line.strip().startswith("#"))
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    body = ast.parse(source).body[0].body
    fields = {n.target.id: (n.lineno, n.end_lineno) for n in body if isinstance(n, ast.AnnAssign)}
    return comments, fields


def meaning(model, name: str, field) -> str:
    """What a key means: its description, else the comment lines right above it and the
    comment at the end of its line, in the class that declares it."""
    if field.description:
        return field.description
    owner = next(c for c in model.__mro__ if name in c.__dict__.get("__annotations__", {}))
    comments, fields = _comments(owner)
    first, last = fields[name]
    above, line = [], first - 1
    while line in comments and comments[line][1]:
        above.insert(0, comments[line][0])
        line -= 1
    inline = [comments[n][0] for n in range(first, last + 1) if n in comments and not comments[n][1]]
    return " ".join(above + inline)


def _model_of(annotation) -> tuple[type | None, bool]:
    """The section model a field holds, and whether it holds a list of them."""
    from pydantic import BaseModel

    def is_model(t) -> bool:
        return isinstance(t, type) and issubclass(t, BaseModel)

    for candidate in (annotation, *typing.get_args(annotation)):
        if is_model(candidate):
            return candidate, False
        inner = typing.get_args(candidate)
        if typing.get_origin(candidate) is list and inner and is_model(inner[0]):
            return inner[0], True
    return None, False


def config_keys(model, prefix: str = ""):
    """(dotted key, model, field name, field, section model or None) for every key, depth first;
    a list of sections is written `key[].child`."""
    for name, field in model.model_fields.items():
        if field.exclude:  # set by the loader, not by the YAML
            continue
        key = prefix + (field.alias or name)
        section, many = _model_of(field.annotation)
        yield key, model, name, field, section
        if section is not None:
            yield from config_keys(section, key + ("[]." if many else "."))


def _type_name(annotation) -> str:
    text = re.sub(r"\btyping\.|\betl\.config\.|\btrain\.config\.|<class '([^']+)'>", r"\1", str(annotation))
    text = re.sub(r"Literal\[([^\]]*)\]", lambda m: " | ".join(v.strip() for v in m.group(1).split(",")), text)
    text = text.replace("'", "").replace("NoneType", "null").replace("Optional[", "null | ").replace("None", "null")
    return text.replace("|", "\\|")


def _default(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if hasattr(value, "model_dump"):
        return ""
    if isinstance(value, list) and value and hasattr(value[0], "model_dump"):
        value = [v.model_dump(exclude_defaults=True) for v in value]
    text = json.dumps(value, default=str, ensure_ascii=False)
    text = text if len(text) <= 60 else text[:57] + "..."
    return "`" + text.replace("|", "\\|") + "`"


def render_config_reference() -> str:
    from etl.config import PipelineConfig
    from train.config import TrainConfig

    out = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models by `tests/test_docs.py` (do not edit by hand; run",
        "`.venv/bin/python tests/test_docs.py` after changing a model). Every key is checked when",
        "the file is loaded: a misspelt key or a value out of range is an error naming its line.",
        "The prose, and an annotated pipeline, are in [configuration.md](configuration.md).",
    ]
    for title, model in (
        ("pipeline.yaml (`etl run --config`)", PipelineConfig),
        ("train.yaml (`etl train --train-config`)", TrainConfig),
    ):
        out += ["", f"## {title}", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for key, owner, name, field, section in config_keys(model):
            kind = "section" if section is not None else _type_name(field.annotation)
            if section is not None and typing.get_origin(field.annotation) is not None:
                kind = "list of sections" if _model_of(field.annotation)[1] else "section"
            text = meaning(owner, name, field) or _own_doc(section)
            text = text.replace("|", "\\|")
            out.append(f"| `{key}` | {kind} | {_default(field)} | {text} |")
    return "\n".join(out) + "\n"


def _own_doc(section) -> str:
    """A section model's own docstring on one line (not one it inherits from pydantic)."""
    doc = section.__dict__.get("__doc__") if section is not None else None
    return " ".join(inspect.cleandoc(doc).split()) if doc else ""


def documented_keys(text: str) -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE))


def test_the_configuration_reference_is_generated_from_the_models():
    expected = render_config_reference()
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/config-reference.md is stale: run `.venv/bin/python tests/test_docs.py`"
    )


def test_every_config_key_is_documented_and_every_documented_key_exists():
    from etl.config import PipelineConfig
    from train.config import TrainConfig

    keys = {key for model in (PipelineConfig, TrainConfig) for key, *_ in config_keys(model)}
    unexplained = [
        key
        for model in (PipelineConfig, TrainConfig)
        for key, owner, name, field, section in config_keys(model)
        if not (meaning(owner, name, field) or _own_doc(section))
    ]
    assert unexplained == [], f"keys without a meaning: write a comment above each in its model: {unexplained}"
    documented = documented_keys(REFERENCE.read_text(encoding="utf-8"))
    assert sorted(keys - documented) == [], "keys missing from docs/config-reference.md: run tests/test_docs.py"
    assert sorted(documented - keys) == [], "docs/config-reference.md documents keys that do not exist"


def test_the_annotated_pipeline_shows_only_keys_that_exist():
    """docs/configuration.md's YAML (the live keys and the commented-out mapping example)."""
    import yaml

    from etl.config import PipelineConfig

    keys = {re.sub(r"\[\]", "", key) for key, *_ in config_keys(PipelineConfig)}
    block = re.search(r"```yaml\n(.*?)```", CONFIGURATION.read_text(encoding="utf-8"), re.DOTALL).group(1)
    uncommented = re.sub(r"^(\s*)# (\s*[a-z_]+:|\s*- path:)", r"\1\2", block, flags=re.MULTILINE)

    def shown(node, prefix=""):
        if isinstance(node, list):
            for item in node:
                yield from shown(item, prefix)
        elif isinstance(node, dict):
            for name, value in node.items():
                key = prefix + str(name)
                yield key
                if not key.endswith((".columns", ".values", ".severity", ".min_customer_words", ".prompts")):
                    yield from shown(value, key + ".")

    for text in (block, uncommented):
        unknown = sorted(set(shown(yaml.safe_load(text))) - keys)
        assert unknown == [], f"docs/configuration.md shows keys the models do not have: {unknown}"


def main() -> None:
    import tempfile

    from etl.config import load_config
    from etl.run.runner import run_pipeline

    with tempfile.TemporaryDirectory() as store:
        summary = run_pipeline(load_config(REPO / "sample_data" / "pipeline.yaml"), store=store)
    text = README.read_text(encoding="utf-8")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + render(summary) + m.group(3), text), encoding="utf-8")
    print(render(summary))
    REFERENCE.write_text(render_config_reference(), encoding="utf-8")
    print(f"wrote {REFERENCE.relative_to(REPO)}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
