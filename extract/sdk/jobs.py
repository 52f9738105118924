"""One job, many ranks: which rank this process is, and the group its runs belong to.

A distributed job (``torchrun``, SLURM, Lightning's own DDP launcher) starts one
process per rank; each may open a run. The runs of one job carry the same group, so
the index, the TUI and MCP can show them together. The group and the rank are written
as the run's params ``group``, ``rank`` and ``world_size`` (plain params: every
reader of the index already shows them, and ``extract sql`` selects a job's runs with
``SELECT run_id FROM run_params WHERE name = 'group' AND value = ?``).

The group, in order of precedence: ``group="name"`` given to ``experiment.run``;
``$EXTRACT_GROUP``; the job's identity from its launcher's environment (a SLURM job
and step, a torchrun run id, or a single-node static rendezvous). ``group=False``
records none.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

GROUP_ENV = "EXTRACT_GROUP"


def job_rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank (0 outside a distributed job)."""
    env = os.environ if env is None else env
    for key in ("RANK", "SLURM_PROCID"):
        value = env.get(key)
        if value and value.isdigit():
            return int(value)
    # Lightning's own launcher sets LOCAL_RANK and NODE_RANK but no RANK
    local, node, per_node = env.get("LOCAL_RANK"), env.get("NODE_RANK"), env.get("LOCAL_WORLD_SIZE")
    if local and local.isdigit():
        if node and node.isdigit() and per_node and per_node.isdigit():
            return int(node) * int(per_node) + int(local)
        return int(local)
    return 0


def job_world_size(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    for key in ("WORLD_SIZE", "SLURM_NTASKS"):
        value = env.get(key)
        if value and value.isdigit():
            return int(value)
    return 1


def job_group(env: Mapping[str, str] | None = None) -> str | None:
    """The identity all ranks of this job share, or None outside a distributed job."""
    env = os.environ if env is None else env
    if env.get(GROUP_ENV):
        return env[GROUP_ENV]
    if env.get("SLURM_JOB_ID") and job_world_size(env) > 1:
        # unique per array element; several sruns of one allocation are separate steps
        gid = f"slurm:{env.get('SLURM_CLUSTER_NAME', '')}:{env['SLURM_JOB_ID']}"
        return gid + (f".{env['SLURM_STEP_ID']}" if env.get("SLURM_STEP_ID") else "")
    run_id = env.get("TORCHELASTIC_RUN_ID", "none")
    if run_id != "none":  # a fresh uuid per torchrun invocation (--standalone, default port)
        return f"torchrun:{run_id}"
    if job_world_size(env) > 1 and env.get("MASTER_ADDR") and env.get("MASTER_PORT"):
        # a static rendezvous (explicit port): the port is the job's, on this node
        return f"ddp:{socket.gethostname()}:{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
    return None


def group_params(group: str | bool | None) -> dict[str, str]:
    """The params a run records for ``group=`` (see the module docstring)."""
    if group is False:
        return {}
    if group is None or group is True:
        found = job_group()
        if found is None:
            return {}
        group = found
    if not isinstance(group, str) or not group.strip():
        raise TypeError(
            f"run(): group must be a non-empty string, True, False or None, got {group!r}"
        )
    return {"group": group, "rank": str(job_rank()), "world_size": str(job_world_size())}
