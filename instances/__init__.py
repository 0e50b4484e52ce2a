"""Instances: the data model, the file format, the evaluator and the shared generator.

The submodules keep their names (``instances.evaluate`` is the evaluator module, so
``instances.evaluate.evaluate(instance, decision)`` works as the README writes it); the names
re-exported here are the data classes and the format's functions, never a name that would
shadow a submodule.
"""

from instances.evaluate import (
    Decision,
    Evaluation,
    InfeasibleDecision,
    Route,
    RouteCost,
    capacity_violations,
    check_feasible,
    evaluate_route,
)
from instances.io import InstanceError, dumps, instance_from_dict, instance_to_dict, load, loads, save
from instances.model import DNNModel, Exit, Instance, Job, Network

__all__ = [
    "DNNModel", "Decision", "Evaluation", "Exit", "InfeasibleDecision", "Instance", "InstanceError", "Job",
    "Network", "Route", "RouteCost", "capacity_violations", "check_feasible", "dumps", "evaluate_route", "instance_from_dict", "instance_to_dict", "load", "loads", "save",
]
