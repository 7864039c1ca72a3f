"""VMEvalKit: evaluate whether video generation models can reason.

Kept import-light on purpose: ``vmevalkit --help`` and ``--list-models`` must not
pay for numpy, PyAV or any model code. Import submodules where they are used.
"""

__version__ = "0.1.0"
