"""A loopback emulator of the namespace API (cloud and on-prem flavours) for tests and demos.

``EmulatorStore`` holds the state and the protocol logic; ``EmulatorServer`` serves it over
HTTP. See store.py for what is emulated and server.py for the routes and control endpoints.
"""

from namespace_api.emulator.server import EmulatorServer
from namespace_api.emulator.store import (
    DEFAULT_RETRY_AFTER,
    FAULT_ENDPOINTS,
    FAULTS,
    ONPREM_FAULTS,
    SWITCHES,
    EmulatorStore,
    parse_fault_spec,
)

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "FAULTS",
    "FAULT_ENDPOINTS",
    "ONPREM_FAULTS",
    "SWITCHES",
    "EmulatorServer",
    "EmulatorStore",
    "parse_fault_spec",
]
