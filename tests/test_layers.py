"""Dependencies point down the layers of ARCHITECTURE.md, and no module imports itself
through others (issue 37).

The layers are import-linter contracts in pyproject.toml (`lint-imports` checks them);
cycles are found here over grimp's import graph, the one import-linter builds: every
import statement counts, those inside functions and under TYPE_CHECKING too, so a
function-level import that dodges a cycle is still one. Run as a script, this file
prints every cycle among etl's and train's modules and exits 1 if there is one:

    .venv/bin/python tests/test_layers.py
"""

from __future__ import annotations

import graphlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("etl", "train")


def import_cycles(packages=PACKAGES) -> list[list[str]]:
    """Every cycle among the packages' modules, one a strongly connected group, as a path
    that starts and ends at the same module (empty when the graph has none)."""
    import grimp

    graph = grimp.build_graph(*packages, cache_dir=None)
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = []
    while True:
        try:
            graphlib.TopologicalSorter(imports).prepare()
            return cycles
        except graphlib.CycleError as error:
            # graphlib lists each node before the one that imports it: read as a imports b
            cycle = list(reversed(error.args[1]))  # [a, b, ..., a]
            cycles.append(cycle)
            imports[cycle[0]].discard(cycle[1])  # break it, and look for the next


def test_the_layers_point_down():
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_module_imports_itself_through_others():
    assert import_cycles() == []


def test_every_task_has_a_builder_and_every_builder_a_task():
    """The core layer names the tasks (config validates against it); the stages build them."""
    from etl.example import TASKS
    from etl.stages.tasks import BUILDERS

    assert tuple(BUILDERS) == TASKS


def _copy_with_upward_import(tmp_path: Path) -> Path:
    """The packages copied, with the clean stage importing the runner inside a function."""
    for name in (*PACKAGES, "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    clean = tmp_path / "etl" / "stages" / "clean.py"
    clean.write_text(
        clean.read_text(encoding="utf-8")
        + "\n\ndef _report_progress():\n    from etl.run import runner\n\n    return runner\n",
        encoding="utf-8",
    )
    return tmp_path


def test_a_stage_that_imports_the_runner_breaks_the_layers_and_makes_a_cycle(tmp_path):
    copy = _copy_with_upward_import(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(copy)}  # the copy shadows the installed package
    lint = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "etl's layers point down BROKEN" in lint.stdout
    assert "etl.stages.clean -> etl.run.runner" in lint.stdout

    cycles = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "test_layers.py")],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cycles.returncode == 1, cycles.stdout + cycles.stderr
    assert "etl.stages.clean -> etl.run.runner" in cycles.stdout


if __name__ == "__main__":
    found = import_cycles()
    for cycle in found:
        print("cycle: " + " -> ".join(cycle))
    print(f"{len(found)} import cycle(s) among the modules of {', '.join(PACKAGES)}")
    sys.exit(1 if found else 0)
