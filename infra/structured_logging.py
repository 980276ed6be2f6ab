"""structlog JSON lines; every line about a case carries `case_id` and `workflow_id`.

Both structlog loggers and the standard library's (Temporal's `workflow.logger` and
`activity.logger` among them) end up as one JSON object per line. Temporal's loggers put
the workflow's identity in a `temporal_workflow` / `temporal_activity` dict; it is
flattened to `workflow_id` and `run_id` so operators can filter on one key everywhere.
`workflow.logger` is replay-safe: it stays silent while a workflow replays its history.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor


def flatten_temporal_context(_: Any, __: str, event_dict: EventDict) -> EventDict:
    for key in ("temporal_workflow", "temporal_activity"):
        context = event_dict.pop(key, None)
        if isinstance(context, dict):
            event_dict.setdefault("workflow_id", context.get("workflow_id"))
            event_dict.setdefault("run_id", context.get("run_id"))
            if key == "temporal_activity":
                event_dict.setdefault("activity_type", context.get("activity_type"))
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        flatten_temporal_context,
    ]


def json_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *_shared_processors()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
