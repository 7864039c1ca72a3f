"""Open-source generators that run in their own virtualenv (catalog kind ``local``).

- ``pipeline``: the base class every model family implements (load once, generate many);
- one module per family (``svd``, ``ltx``, ``cogvideox``, ``wan``, ``hunyuan``): the diffusers
  pipeline, its defaults, and a tiny random checkpoint of it for tests;
- ``protocol``/``worker``/``executor``: the long-lived worker process and the runner's side of it;
- ``weights``: the pinned-checkpoint registry, lock files and verification.

Only ``executor``, ``weights`` and ``protocol`` run in the main environment; family modules
import torch and diffusers inside their methods, so naming them by dotted path costs nothing.
"""
