"""highspy and OR-Tools in one process, in both import orders (they clash for highspy >= 1.15).

Each order runs in a fresh interpreter, since the clash is about which shared library is
loaded first; after both imports each process solves a tiny LP with highspy, a min-cost flow
and a CP-SAT model.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

IMPORTS = {
    "highspy": "import highspy\n",
    "ortools": "from ortools.graph.python import min_cost_flow\nfrom ortools.sat.python import cp_model\n",
}

SOLVES = """
import numpy as np
h = highspy.Highs()
h.setOptionValue("output_flag", False)
inf = highspy.kHighsInf
# min x + 2y  s.t.  x + y >= 1,  0 <= x, y <= 1  ->  x = 1, objective 1
h.addVars(2, np.array([0.0, 0.0]), np.array([1.0, 1.0]))
h.changeColsCost(2, np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]))
h.addRow(1.0, inf, 2, np.array([0, 1], dtype=np.int32), np.array([1.0, 1.0]))
h.run()
assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.getModelStatus()
assert abs(h.getInfo().objective_function_value - 1.0) < 1e-9
print("highs-ok")

mcf = min_cost_flow.SimpleMinCostFlow()
# 0 -> 1 -> 2 costs 1 + 1, 0 -> 2 costs 5: one unit takes the two-hop path
for s, t, c in ((0, 1, 1), (1, 2, 1), (0, 2, 5)):
    mcf.add_arc_with_capacity_and_unit_cost(s, t, 1, c)
mcf.set_node_supply(0, 1)
mcf.set_node_supply(2, -1)
assert mcf.solve() == mcf.OPTIMAL and mcf.optimal_cost() == 2
print("mcf-ok")

m = cp_model.CpModel()
x = m.new_int_var(0, 10, "x")
y = m.new_int_var(0, 10, "y")
m.add(x + y >= 7)
m.minimize(3 * x + 2 * y)
solver = cp_model.CpSolver()
solver.parameters.num_workers = 1
assert solver.solve(m) == cp_model.OPTIMAL and solver.objective_value == 14
print("cpsat-ok")
"""


@pytest.mark.parametrize("first", ["highspy", "ortools"], ids=["highspy-first", "ortools-first"])
def test_highspy_and_ortools_in_one_process(first):
    second = "ortools" if first == "highspy" else "highspy"
    code = IMPORTS[first] + IMPORTS[second] + textwrap.dedent(SOLVES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["highs-ok", "mcf-ok", "cpsat-ok"]
