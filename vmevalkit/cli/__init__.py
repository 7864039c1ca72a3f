"""The ``vmevalkit`` command (``main``): one module per subcommand, and the install tools the setup scripts run.

Light on purpose: importing this package imports nothing else, and the modules that build the parser import only
the stdlib at module level, so ``python -m vmevalkit local tiny ...`` runs inside a model's virtualenv, which has
none of the main environment's packages.
"""
