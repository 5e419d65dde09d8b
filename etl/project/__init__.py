"""Starting a project: `etl init` (a first pipeline.yaml guessed from a folder of exports)."""
