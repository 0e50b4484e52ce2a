"""F5: LLM pipeline placement for throughput (DESIGN.md section 5): the layered max-flow with
design binaries (``flow.py``), the literature's MILP reconstructed from Helix (``helix.py``, with
Helix's own LP file as a backend), and what they share (``common.py``)."""
