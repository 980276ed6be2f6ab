"""What an activity's failure says, whether it ran as a regular or a local activity.

A regular activity's failure reaches the workflow as `ActivityError` with the
activity's own `ApplicationError` as its cause; a local activity's failure arrives as
that `ApplicationError` itself (or a `TimeoutError` when its time ran out). Workflows
ask here instead of unwrapping either shape themselves.
"""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, FailureError


def application_failure(error: FailureError) -> ApplicationError | None:
    """The activity's own `ApplicationError`, or None (a time-out, a cancellation)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause if isinstance(cause, ApplicationError) else None


def failure_type(error: FailureError) -> str | None:
    """The `type` of the activity's own `ApplicationError`, e.g. "ConcurrencyError"."""
    failure = application_failure(error)
    return failure.type if failure is not None else None
