"""Persistent worker subprocesses, shared by the local generators and the local scorers.

- ``protocol``: the versioned, typed messages over a worker's stdin and stdout;
- ``service``: ``WorkerService``, the one contract the worker child knows (load once, handle many requests);
- ``worker``: the child's entry point (``envs/<name>/bin/python -m vmevalkit.workers.worker``);
- ``process``: the parent's side: start, talk to, kill and replace workers, one per GPU, without secrets;
- ``installation``: where a venv and its checkpoint are, and what is missing (with the fix);
- ``weights``: the pinned-checkpoint registry (``checkpoints.toml``), locks, download and verification;
- ``tiny`` and ``tiny_text``: tiny random checkpoints and tokenizers built here, for tests.

Nothing here knows whether it serves a generator or a scorer: ``vmevalkit.models.local`` and
``vmevalkit.scoring.local`` build on this package and never on each other.
"""
