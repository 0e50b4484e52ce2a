"""Formulations and their backends. Importing this package registers every (formulation,
backend) pair with :mod:`dnnsplit.registry`; add a module to ``_MODULES`` to register more."""

import importlib

_MODULES: tuple[str, ...] = ()

for _name in _MODULES:
    importlib.import_module(f"formulations.{_name}")
