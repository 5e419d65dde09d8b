"""Loading a YAML file into a model, with errors that name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from etl.config.pipeline import PipelineConfig
from etl.config.sources import CHAT_FIELDS, REVIEW_FIELDS, Sources
from etl.errors import ConfigError


def load_config(path: str | Path) -> PipelineConfig:
    config = load_yaml_model(path, PipelineConfig, "pipeline")
    config.base_dir = Path(path).resolve().parent
    config.mapping_lines = _mapping_lines(Path(path), config.sources)
    return config


def _mapping_lines(path: Path, sources: Sources) -> dict[str, str]:
    root = yaml.compose(path.read_text(encoding="utf-8"))
    lines = {}
    for kind in ("reviews", "chats"):
        for index, (key, _) in enumerate(sources.specs(kind)):
            for field in REVIEW_FIELDS if kind == "reviews" else CHAT_FIELDS:
                node = _node_at(root, ["sources", kind, str(index), "columns", field])
                if node is not None:
                    lines[f"{key}.columns.{field}"] = f"{path.name}:{node.start_mark.line + 1}"
    return lines


def _node_at(node: yaml.Node | None, keys: list[str]) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        elif isinstance(node, yaml.MappingNode) and key.isdigit():
            continue  # a single source written without a list: entry 0 is the mapping itself
        elif isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        else:
            return None
    return node


def load_yaml_model(path: str | Path, model: type[BaseModel], kind: str) -> Any:
    """A YAML file validated into `model`; every problem is one line naming the file, line and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found. Pass --config with the path to a {kind} YAML.")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None and kind != "pipeline":
        data = {}  # an empty file means "all defaults"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_describe_error(path, root, err) for err in exc.errors(include_url=False, include_input=False)]
        # one problem, one line; several, one line each
        raise ConfigError(
            lines[0] if len(lines) == 1 else f"invalid {kind} config:\n  " + "\n  ".join(lines)
        ) from None


def _describe_error(path: Path, root: yaml.Node | None, err: dict[str, Any]) -> str:
    line, shown = _line_of(root, [str(part) for part in err["loc"]])
    key = ".".join(shown) or "(top level)"
    where = f"{path}:{line}" if line else str(path)
    hint = " (remove it or check its spelling)" if err["type"] == "extra_forbidden" else ""
    return f"{where}: {key}: {err['msg']}{hint}"


def _line_of(node: yaml.Node | None, loc: list[str]) -> tuple[int | None, list[str]]:
    """1-based line of the deepest YAML node on the error's path, and the path as the YAML has
    it (a single source written without a list has no entry number)."""
    line, shown = None, []
    for at, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                if part.isdigit():
                    continue
                shown += loc[at:]
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            shown += loc[at:]
            break
        shown.append(part)
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line, shown
