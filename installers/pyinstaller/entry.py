"""The frozen app's entry point (PyInstaller's script): `lmstudio-tray [ARGS]`.

Three ways in, so the bundle behaves like a venv install:

- `--self-test`: handed to `tray.selftest` before the tray's start-up path is imported,
  so a broken start-up cannot hide what the self-test would report;
- `-m MODULE ARGS`: the app re-runs itself as `sys.executable -m tray.simulator ...` (the
  demo's simulated LM Studio and its fake `lms`) and `-m tray --demo` ("Try the demo");
  a frozen executable has no `-m`, so it is done here for `tray` modules only;
- anything else: the tray or its command line, `tray.app.main`.
"""

from __future__ import annotations

import runpy
import sys


def _run() -> int:
    args = sys.argv[1:]
    if "--self-test" in args:
        from tray.selftest import main as self_test

        return self_test(args)
    if len(args) >= 2 and args[0] == "-m":
        module = args[1]
        if module != "tray" and not module.startswith("tray."):
            sys.stderr.write(f"lmstudio-tray: -m runs only the app's own modules, not {module}\n")
            return 2
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from tray.app import main

    return main()


if __name__ == "__main__":
    raise SystemExit(_run())
