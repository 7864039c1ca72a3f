"""Local scorers: reward models and judges that run in their own virtualenv, served by a persistent worker.

``model.py`` is the in-venv side (``LocalScorerModel``: load once, score many batches); ``wrapper.py`` is the main
environment's side (``LocalScorer``, a scorer that hands batches to workers); one module per scorer family.
"""
