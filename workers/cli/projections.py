"""`regie projections rebuild [NAME]`: empty a read model and replay the whole event log
into it (`infra.projections.rebuild`), with a progress bar and the events per second."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer
from pydantic import BaseModel, ConfigDict
from rich.progress import Progress, TaskID

from infra.garbage_collection import tune_for_throughput
from infra.projections import PROJECTIONS, UnknownProjectionError, rebuild
from infra.settings import Settings
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import emit_json, fail, line, markup, progress
from workers.cli.runtime import open_store


class Rebuilt(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    events: int
    seconds: float
    events_per_second: float


def _update(bar: Progress, task: TaskID, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


async def projections_rebuild(settings: Settings, name: str | None, *,
                              as_json: bool = False) -> int:
    names = sorted(PROJECTIONS) if name is None else [name]
    if name is not None and name not in PROJECTIONS:
        return fail(str(UnknownProjectionError(name)), ExitCode.NOT_FOUND)
    store, _server = await open_store(settings)
    # A rebuild decodes the whole log: run as the projector does (infra/garbage_collection.py).
    tune_for_throughput()
    for each in names:
        with progress(f"rebuilding {each}", None) as (bar, task):
            figures = await rebuild(store, each, on_progress=partial(_update, bar, task))
        result = Rebuilt(name=each, events=figures.events, seconds=round(figures.seconds, 3),
                         events_per_second=round(figures.events_per_second, 1))
        if as_json:
            emit_json(result)
        else:
            line(markup(f"{each}: rebuilt from {result.events} events in "
                        f"{result.seconds:.1f} s ({result.events_per_second:,.0f} events/s)"))
    return 0


def register(app: typer.Typer) -> None:
    projections = typer.Typer(no_args_is_help=True, help="The read models the projector "
                              "keeps.")
    app.add_typer(projections, name="projections")

    @projections.command("rebuild")
    def rebuild_command(
        name: Annotated[str | None, typer.Argument(
            help=f"One read model ({', '.join(sorted(PROJECTIONS))}); default: all.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Empty a read model and replay the whole event log into it, in one
        transaction (readers see the old rows until it commits)."""
        execute(lambda settings: projections_rebuild(settings, name, as_json=as_json))
