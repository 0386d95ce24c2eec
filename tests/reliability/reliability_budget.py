"""How hard the reliability tests push: a small budget in the normal suite, a big one in a
dedicated run.

    LMSTRAY_FUZZ=large LMSTRAY_CRASH_KILLS=1000 python -m pytest tests/reliability -q

`FUZZ` is applied per test (not as a global Hypothesis profile) so that running these
files in one process with the unit tests changes nothing for those. Its per-example
deadline catches a parser that stalls (seconds on a few kilobytes is a hang in waiting);
it is generous because CI has two shared cores, and pytest-timeout catches a real hang.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

LARGE = os.environ.get("LMSTRAY_FUZZ") == "large"
EXAMPLES = int(os.environ.get("LMSTRAY_FUZZ_EXAMPLES", "20000" if LARGE else "150"))
CRASH_KILLS = int(os.environ.get("LMSTRAY_CRASH_KILLS", "100"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
