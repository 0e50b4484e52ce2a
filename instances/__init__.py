"""Instances: the data model, the file format, the evaluator and the shared generator."""

from instances.evaluate import (
    Decision,
    Evaluation,
    InfeasibleDecision,
    Route,
    RouteCost,
    capacity_violations,
    check_feasible,
    evaluate,
    evaluate_route,
)
from instances.io import InstanceError, dumps, instance_from_dict, instance_to_dict, load, loads, save
from instances.model import DNNModel, Exit, Instance, Job, Network

__all__ = [
    "DNNModel", "Decision", "Evaluation", "Exit", "InfeasibleDecision", "Instance", "InstanceError", "Job",
    "Network", "Route", "RouteCost", "capacity_violations", "check_feasible", "dumps", "evaluate",
    "evaluate_route", "instance_from_dict", "instance_to_dict", "load", "loads", "save",
]
