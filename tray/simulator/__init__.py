"""An LM Studio simulator for tests and `--demo`: a real HTTP server on loopback and a
fake `lms` executable that drive one simulated state. Uses `tray.core` only."""
