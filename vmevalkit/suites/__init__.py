"""Benchmark suites: datasets, models, scorers and weighted criteria in one file, run from generation to a ranked
result by ``vmevalkit run`` (issue 15).

- ``schema``: the suite file (TOML or JSON) and its validation, with errors that name the field's path;
- ``expr``: the safe parser of criteria expressions (never Python's ``eval``);
- ``criteria``: metrics, goals, weights, the composite score, ranks and bootstrap intervals;
- ``datasets``: the suite's datasets (generated, local, Hugging Face Hub, imported) as one questions folder;
- ``result``: the versioned result JSON and ``compare``;
- ``registry``: named benchmarks (shipped, by file, by environment variable, by entry point);
- ``tracking``: MLflow;
- ``run``: the stages, resumable, and the plan ``--dry-run`` prints.
"""
