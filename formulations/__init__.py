"""Formulations and their backends.

Importing this package imports every module in it; each module registers its (formulation,
backend) pairs with :func:`dnnsplit.registry.register` at import time, so adding a backend is
one new module (or one more ``register`` call) and nothing else.
"""

import importlib
import pkgutil

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
