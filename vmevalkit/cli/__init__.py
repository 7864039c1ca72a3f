"""Command lines: the ``vmevalkit`` console command (``main``) and the tools the setup scripts run.

Light on purpose: importing this package imports nothing else, so ``python -m vmevalkit.cli.local_tiny`` runs inside
a model's virtualenv, which has none of the main environment's packages.
"""
