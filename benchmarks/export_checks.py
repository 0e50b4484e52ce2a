"""Checks behind the README's export and plot figures (not run by the tests).

    .venv/bin/python -m benchmarks.export_checks solu DIR            # a model library's .solu against HiGHS
    .venv/bin/python -m benchmarks.export_checks plots OUT small medium zoo-sample multi-small

``solu``: solve every model of a library written by ``dnnsplit export --default-set S --out DIR``
with HiGHS, read from its file, and compare with the library's ``.solu`` value (``=inf=``: the
model must be infeasible); prints the worst relative difference. ``plots``: draw a solution of
every instance of the default sets (F2/layered-dijkstra on single-job instances,
F3-latency-lp/highspy on multi-job ones) and count placement labels that overlap or leave the
figure, with the drawing time.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path


def check_solu(lib: Path, time_limit: float = 120.0) -> int:
    from dnnsplit.options import SolverOptions
    from dnnsplit.solvers import highs

    index = {r["model"]: r for r in csv.DictReader(open(lib / "index.csv"))}
    worst, values, infeasible, wrong = 0.0, 0, 0, 0
    for line in (lib / f"{lib.name}.solu").read_text().splitlines():
        parts = line.split()
        model, _, _ = highs.read_model(str(lib / index[parts[1]]["file"]))
        options = SolverOptions(time_limit=time_limit)
        run = highs.solve(model, options, options.clock())
        if parts[0] == "=inf=":
            infeasible += run.status.value == "infeasible"
            wrong += run.status.value != "infeasible"
            print(parts[1], "=inf=", run.status.value)
            continue
        if parts[0] != "=opt=":
            continue  # =best= / =bestdual= are not optima: nothing to compare exactly
        value = float(parts[2])
        rel = abs(run.objective - value) / max(abs(value), 1e-9)
        worst, values = max(worst, rel), values + 1
        print(parts[1], parts[0], value, run.objective, f"{rel:.2e}", run.status.value)
    print(f"checked {values} =opt= values, worst relative difference {worst:.2e}; "
          f"=inf= confirmed {infeasible}, not confirmed {wrong}")
    return 1 if wrong or worst > 1e-6 else 0


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_plots(out: Path, sets: list[str]) -> int:
    from dnnsplit import catalogue, plot
    from dnnsplit.options import SolverOptions
    from instances.defaults import default_set

    out.mkdir(parents=True, exist_ok=True)
    bad = 0
    for set_name in sets:
        for inst in default_set(set_name):
            pair = ("F2", "layered-dijkstra") if len(inst.jobs) == 1 else ("F3-latency-lp", "highspy")
            res = catalogue.run(catalogue.get(*pair), inst, SolverOptions(time_limit=60))
            start = time.perf_counter()
            info = plot.draw(inst, res, out / f"{inst.name}.png")
            seconds = time.perf_counter() - start
            boxes, (width, height) = info["label_boxes"], info["size_px"]
            over = sum(_overlap(boxes[i], boxes[k]) for i in range(len(boxes)) for k in range(i + 1, len(boxes)))
            outside = sum(not (0 <= b[0] and b[2] <= width and 0 <= b[1] and b[3] <= height) for b in boxes)
            bad += over + outside
            print(f"{inst.name}: {res.status.value}, layout {info['layout']}, zoom {info['zoom']}, {len(boxes)} labels, "
                  f"{over} overlapping, {outside} outside, {seconds:.2f} s", flush=True)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_checks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    solu = sub.add_parser("solu", help="a model library's .solu values against HiGHS on its files")
    solu.add_argument("library", type=Path)
    solu.add_argument("--time-limit", type=float, default=120.0)
    plots = sub.add_parser("plots", help="draw a solution of every instance of default sets; count label clashes")
    plots.add_argument("out", type=Path)
    plots.add_argument("sets", nargs="+")
    args = parser.parse_args(argv)
    if args.what == "solu":
        return check_solu(args.library, args.time_limit)
    return check_plots(args.out, args.sets)


if __name__ == "__main__":
    raise SystemExit(main())
