"""The campaign runner: tasks (``tasks``), one child process per solve (``child``, the one
harness), what each fork server preloads (``preload``), records (``records``), the campaign loop
and the sequential engine (``runner``), the Dask engine (``dask_engine``), progress and ETA
(``progress``) and the command line (``cli``).
"""

from dnnsplit.campaign.child import classify_exit, tail_lines
from dnnsplit.campaign.records import build_record, read_existing
from dnnsplit.campaign.runner import run_campaign
from dnnsplit.campaign.tasks import (CampaignError, Settings, code_version, parse_memory, plan, resolve_sets, select_pairs,
                                     solver_options, task_id, task_key)

__all__ = ["CampaignError", "Settings", "build_record", "classify_exit", "code_version", "parse_memory", "plan",
           "read_existing", "resolve_sets", "run_campaign", "select_pairs", "solver_options", "tail_lines", "task_id",
           "task_key"]
