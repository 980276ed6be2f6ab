"""`regie demo`: seed the running local stack with the region's made-up families
(`workers.demo.seed_region`: ten families in different phases, through the gateway and
the real workflows, as the school and a coordinator would). Running it again changes
nothing: the same references and keys find the same cases."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from infra.settings import Settings
from infra.stack import Stack
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, fail, note, plain, progress, show, table
from workers.demo import REGION_FAMILIES, SeedError, seed_region


async def demo(settings: Settings, gateway_url: str | None, *, as_json: bool = False,
               http: httpx.AsyncClient | None = None) -> int:
    """`http`: a client of an in-process gateway (tests)."""
    if not settings.dev_issuer_enabled:
        return fail("the demo signs in with the local dev issuer, which is off here",
                    ExitCode.FAILED)
    url = gateway_url or Stack(settings).gateway_url
    with progress(f"seeding {len(REGION_FAMILIES)} families", None) as (bar, task):
        def said(line: str) -> None:
            # What the seeding reports (credentials made, each family seeded), as it goes.
            bar.update(task, description=plain(line.strip()), advance=1)

        try:
            cases = await seed_region(url, progress=said, settings=settings, http=http)
        except SeedError as error:
            return fail(str(error), ExitCode.FAILED)
        except httpx.TransportError as error:
            return fail(f"the gateway cannot be reached at {url} ({type(error).__name__}); "
                        "is the stack up (`python3 infra/bootstrap.py up`)?",
                        ExitCode.UNAVAILABLE)
    if as_json:
        for case in cases:
            emit_json(case)
        return 0
    grid = table("reference", "case", "family", "phase", "what it shows",
                 title="The region's demo families (made up)")
    for case in cases:
        grid.add_row(cell(case.reference), cell(case.case_id), cell(case.family),
                     cell(case.phase), cell(case.shows))
    show(grid)
    note("look at one with `regie case show CASE`, or `regie escalations`, `regie case "
         "list`; in the Web UI filter by Phase, EscalationLevel or InAftercare")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        gateway: Annotated[str | None, typer.Option(
            help="The gateway's URL (default: the local stack's).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Seed the local stack with ten made-up families in different phases (again:
        the same ten, nothing twice)."""
        execute(lambda settings: demo(settings, gateway, as_json=as_json))
