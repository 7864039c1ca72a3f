"""Open-source generators that run in their own virtualenv (catalog kind ``local``).

- ``pipeline``: ``LocalPipeline``, the base class every model family implements (load once, generate many), a
  ``WorkerService`` (``vmevalkit.workers.service``) that the generic worker serves;
- one module per family (``svd``, ``ltx``, ``cogvideox``, ``wan``, ``hunyuan``): the diffusers pipeline, its
  defaults, and a tiny random checkpoint of it for tests;
- ``executor``: ``LocalExecutor``, the runner's side (one worker per GPU, through ``vmevalkit.workers.process``);
- ``wrapper``: ``LocalModelWrapper``, the same executor behind the plain ``generate()`` call.

Family modules import torch and diffusers inside their methods, so naming them by dotted path costs nothing.
"""
