"""PostgreSQL speed settings of the sandbox's clusters (docs/sandbox.md, "Speed settings").

``SPEED_SETTINGS`` is a plain data tuple, shared by the code (the conf.d file written next to each
cluster the sandbox creates) and docs/sandbox.md (a test checks that the table names each one).
"""

from __future__ import annotations

from dataclasses import dataclass

SPEED_CONF_NAME = "zz-runbook-sandbox.conf"


@dataclass(frozen=True)
class SpeedSetting:
    """One PostgreSQL setting the sandbox adds to the clusters it creates (``speed=True``)."""

    name: str
    value: str
    reason: str


#: The speed settings, shared by the code (conf.d file) and docs/sandbox.md.
SPEED_SETTINGS: tuple[SpeedSetting, ...] = (
    SpeedSetting(
        "checkpoint_completion_target",
        "0",
        "pg_basebackup without --checkpoint=fast waits for a spread checkpoint on the primary "
        "(about 50 s each); with 0 the checkpoint is written at once. A guide cannot observe it "
        "except through SHOW/pg_settings.",
    ),
)


DATA_IN_MEMORY = "lib-postgresql"
"""Speed setting (docs/sandbox.md): the host folder behind /var/lib/postgresql is a tmpfs of its own
(mounted on the machine under the sandbox's folder, unmounted by ``down``): the data directories'
writes never wait for the disk."""
DATA_TMPFS_SIZE = "25%"
"""The most a host's data directories may hold in memory (of the machine's RAM; only what is used
is taken, and it counts against the host's memory limit).  Beyond it PostgreSQL reports a full disk,
which ``diagnose`` names."""


def speed_conf_text() -> str:
    """Content of conf.d/zz-runbook-sandbox.conf (the speed settings)."""
    lines = ["# Written by the runbook sandbox (speed settings; runbook run --no-speed leaves it out)."]
    for s in SPEED_SETTINGS:
        lines.append(f"{s.name} = {s.value}")
    return "\n".join(lines) + "\n"
