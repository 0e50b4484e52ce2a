"""LLM pipeline placement for throughput (DESIGN.md section 5, F5): data model, file format,
evaluator, hardware figures, roofline, the published Helix case and the ``llm-cluster``
generator. Imports nothing of the project above ``instances``."""

from instances.llm.evaluate import InfeasiblePlacement, LLMEvaluation, Pipeline, evaluate_placement
from instances.llm.io import FORMAT_NAME, llm_dumps, llm_instance_from_dict, llm_instance_to_dict
from instances.llm.model import LLM_PROBLEM, LLMInstance, LLMModel, LLMNode, Placement, is_llm_instance

__all__ = [
    "FORMAT_NAME", "InfeasiblePlacement", "LLMEvaluation", "LLMInstance", "LLMModel", "LLMNode", "LLM_PROBLEM",
    "Pipeline", "Placement", "evaluate_placement", "is_llm_instance", "llm_dumps", "llm_instance_from_dict",
    "llm_instance_to_dict",
]
