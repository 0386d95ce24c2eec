"""Per-OS pieces (global hotkeys, autostart, notifications), each behind one protocol.

Filled by later capabilities; nothing per-OS is needed by the foundation yet.
"""
