"""The overdue worker's run as Prometheus text exposition format (node_exporter textfile collector).

One gauge per figure of the last run, labelled with the org name, so a scrape sees the latest
run; ``sfsync_overdue_last_run_timestamp_seconds`` lets an alert fire when runs stop.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from sfsync.errors import UsageError

logger = logging.getLogger(__name__)

PREFIX = "sfsync_overdue"

# (metric suffix, help text, attribute of the result or key of ``extra``)
_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("checked", "Reservations read from the org in the last run.", "checked"),
    ("notified", "Reservations whose first notice was sent and stamped in the last run.", "notified"),
    ("escalated", "Reservations escalated to the store manager and stamped in the last run.", "escalated"),
    ("failed", "Reservations left for the next run because of a per-item failure in the last run.", "failed"),
    ("api_calls", "HTTP requests the last run sent to the org, login included.", "api_calls"),
    ("duration_seconds", "Wall time of the last run in seconds.", "duration_seconds"),
    ("exit_code", "Exit code of the last run (0 done, 1 could not run, 2 items failed, 3 API limit).", "exit_code"),
    ("last_run_timestamp_seconds", "Unix time the last run ended.", "finished_at"),
)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def render_metrics(values: dict[str, float | int], *, org: str) -> str:
    """Prometheus text for ``values`` (keys as in _GAUGES' third column); missing keys are left out."""
    label = f'{{org="{_escape_label(org)}"}}'
    lines: list[str] = []
    for suffix, help_text, key in _GAUGES:
        if key not in values or values[key] is None:
            continue
        name = f"{PREFIX}_{suffix}"
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{label} {_number(values[key])}")
    return "\n".join(lines) + "\n"


def write_metrics_file(path: Path, text: str) -> None:
    """Write ``text`` atomically (temp file + rename), so a scraper never reads half a file."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"cannot write metrics file {path}: it is a directory")
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write metrics file {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
