"""The production examples in infra/deploy/ stay true to the code they configure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workers.dispatcher import DispatcherSettings

DEPLOY = Path(__file__).parents[2] / "infra" / "deploy"
# Read by infra.policy_file, not by the settings classes.
OTHER_VARIABLES = {"REGIE_POLICY_FILE"}


def test_every_variable_in_the_env_example_is_read() -> None:
    # The settings ignore unknown REGIE_* names, so a misspelt one would be dropped
    # without a word; commented-out examples count too.
    names = set()
    for line in (DEPLOY / "regie.env.example").read_text().splitlines():
        text = line.lstrip("# ")
        if text.startswith("REGIE_") and "=" in text:
            names.add(text.split("=", 1)[0])
    known = {f"REGIE_{name.upper()}" for name in DispatcherSettings.model_fields}
    assert "REGIE_TEMPORAL_TLS_CERT" in names
    assert names - known - OTHER_VARIABLES == set()


def test_the_temporal_frontend_demands_client_certificates() -> None:
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOY / "temporal-server-tls.yaml").read_text())
    tls = config["global"]["tls"]
    for group in ("frontend", "internode"):
        server = tls[group]["server"]
        assert server["requireClientAuth"] is True, group
        assert server["clientCaFiles"], group
    assert "/etc/temporal/tls/regie-clients-ca.pem" in tls["frontend"]["server"][
        "clientCaFiles"]
