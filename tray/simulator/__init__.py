"""An LM Studio simulator for tests and `--demo`: a real HTTP server on loopback and a
fake `lms` executable that drive one simulated state. Uses `tray.core` only.

    with Simulator(home) as sim:
        sim.base_url                      # the HTTP API (FORMATS §3)
        sim.state.load("qwen/qwen3-4b")   # arrange state directly
        sim.faults.add(Fault(kind="status", path="/api/v1/models"))
        lms = sim.install_fake_lms()      # <home>/bin/lms, talks to this simulator
"""

from __future__ import annotations

from tray.simulator.daemon import Simulator, install_fake_lms, write_install_location
from tray.simulator.faults import Fault, FaultList
from tray.simulator.state import Reply, SimState

__all__ = [
    "Fault",
    "FaultList",
    "Reply",
    "SimState",
    "Simulator",
    "install_fake_lms",
    "write_install_location",
]
