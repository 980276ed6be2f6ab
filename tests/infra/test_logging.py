from __future__ import annotations

import json
import logging

from infra.structured_logging import json_formatter


def test_temporal_log_records_become_json_with_case_and_workflow_id() -> None:
    record = logging.LogRecord("temporalio.workflow", logging.INFO, __file__, 1,
                               "trajectory started", None, None)
    record.case_id = "case-1"
    record.temporal_workflow = {"workflow_id": "trajectory-case-1", "run_id": "r-1",
                                "workflow_type": "FamilyTrajectoryWorkflow"}
    line = json.loads(json_formatter().format(record))
    assert line["event"] == "trajectory started"
    assert line["case_id"] == "case-1"
    assert line["workflow_id"] == "trajectory-case-1"
    assert line["run_id"] == "r-1"
    assert line["level"] == "info"
