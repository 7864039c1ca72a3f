"""Human evaluation in the browser: ``vmevalkit annotate`` (docs/SCORING.md, "Human evaluation in the browser").

A person rates generations (rate mode: solved yes/no, process quality 1-5, a note) or compares two models'
videos of one task (pairwise mode: A, B or tie), blind and by keyboard, and the labels land in their own file in
exactly the JSONL format ``evaluate-scorers`` reads.

- ``items``: what is labelled, in what order (blind ids, seeded order, the same items for every annotator);
- ``store``: an annotator's labels file (atomic rewrites, resumed from the file itself) and session file;
- ``app``: the FastAPI app: the page, its JSON API and the experiment's files by slot, with its security rules.

The command line (flags, the token, the server) is ``vmevalkit.cli.annotate``.
"""
