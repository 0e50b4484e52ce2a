"""highspy, OR-Tools and PySCIPOpt in one process, in every import order (highspy >= 1.15 and
ortools 9.15 clash; SCIP ships its own libraries in its wheel), and Dask's ``distributed`` (the
campaign's parallel engine) imported before and after all of them.

Each order runs in a fresh interpreter, since a clash is about which shared library is loaded
first; after the imports each process solves a tiny LP with highspy, a min-cost flow, a CP-SAT
model and a small MILP with SCIP (and, with distributed, runs one task on an in-process Dask
cluster; with the ``cluster`` extra installed, writes a SLURMCluster job script).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import pytest

IMPORTS = {
    "highspy": "import highspy\n",
    "ortools": "from ortools.graph.python import min_cost_flow\nfrom ortools.sat.python import cp_model\n",
    "pyscipopt": "import pyscipopt\n",
}
DASK_IMPORT = "import distributed\n"

DASK_SOLVE = """
client = distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
assert client.submit(lambda x: x + 1, 41).result() == 42
client.close()
print("dask-ok")
try:
    from dask_jobqueue import SLURMCluster
except ImportError:
    print("jobqueue-absent")
else:
    script = SLURMCluster(cores=4, processes=4, memory="16GB", walltime="02:00:00").job_script()
    assert "#SBATCH -t 02:00:00" in script and "--nworkers 4" in script and "--nthreads 1" in script, script
    print("jobqueue-ok")
"""

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

scip = pyscipopt.Model()
scip.hideOutput()
# min 3a + 2b  s.t.  a + b >= 7, a, b integer in [0, 10]  ->  a = 0, b = 7, objective 14
a = scip.addVar(vtype="I", lb=0, ub=10, obj=3.0)
b = scip.addVar(vtype="I", lb=0, ub=10, obj=2.0)
scip.addCons(a + b >= 7)
scip.optimize()
assert scip.getStatus() == "optimal" and abs(scip.getObjVal() - 14) < 1e-9, scip.getStatus()
print("scip-ok")
"""


ORDERS = list(itertools.permutations(IMPORTS))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_solver_libraries_in_one_process(order):
    code = "".join(IMPORTS[name] for name in order) + textwrap.dedent(SOLVES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["highs-ok", "mcf-ok", "cpsat-ok", "scip-ok"]


@pytest.mark.parametrize("dask_first", [True, False], ids=["distributed-first", "distributed-last"])
def test_dask_beside_the_solver_libraries(dask_first):
    solvers = "".join(IMPORTS.values())
    code = (DASK_IMPORT + solvers if dask_first else solvers + DASK_IMPORT) + textwrap.dedent(SOLVES) + textwrap.dedent(DASK_SOLVE)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout.split()
    assert out[:5] == ["highs-ok", "mcf-ok", "cpsat-ok", "scip-ok", "dask-ok"]
    assert out[5] in ("jobqueue-ok", "jobqueue-absent")
