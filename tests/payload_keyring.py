"""The payload keyring of the test suite: a TEST-ONLY key, committed on purpose.

The recorded histories under tests/histories/ were encrypted with it, and the replay test
must decode them, so it cannot be made anew per session. It protects nothing but test
data (the made-up families of tests/factories.py); never use it anywhere else.
"""

from __future__ import annotations

import json

from temporalio.converter import DataConverter

from infra.payload_codec import data_converter
from infra.payload_keys import Keyring, parse_keyring

TEST_ONLY_KEY_ID = "test-only-2026"
TEST_ONLY_KEYS_JSON = json.dumps(
    {TEST_ONLY_KEY_ID: "FpcV9R3+WRBHO3LR2B7B9vLNBov4wELnRtX5vetn61I="})
TEST_ONLY_KEYRING: Keyring = parse_keyring(TEST_ONLY_KEYS_JSON, TEST_ONLY_KEY_ID)


def suite_data_converter() -> DataConverter:
    """What every test client and worker converts with: the pydantic converter and the
    codec with the test-only keyring."""
    return data_converter(TEST_ONLY_KEYRING)
