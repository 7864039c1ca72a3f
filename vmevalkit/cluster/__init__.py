"""Scale-out on Ray: the parts of the ``ray`` engine that know nothing of models or scorers.

- ``session``: joining (or starting) a Ray cluster, and what its nodes offer;
- ``files``: a folder's files as bytes, to cross to a node that shares no filesystem with the driver;
- ``pool``: a pull queue of actors: each job goes to the next free actor, a lost actor's job is retried on
  another and the actor replaced, a job is failed after a set number of attempts.

The engines that use them: ``vmevalkit.runner.ray_engine`` (generation) and ``vmevalkit.scoring.ray_pool``
(scoring). Ray is an optional extra (``pip install 'vmevalkit[ray]'``): nothing here imports it at module level.
"""
