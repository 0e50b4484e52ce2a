"""The literature's heuristics (DESIGN.md section 4), each measured against the exact optimum of
its registered ``reference``: ``splits`` (local only, best remote, two-way split), ``greedy``
(sequential routing), ``dina`` (exchange-stable matching), ``fin`` (latency-level graph), with
the one repair loop they share in ``repair``. Adding a heuristic is one file here plus its
name in ``dnnsplit.catalogue.MODULES``."""
