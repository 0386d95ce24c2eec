"""The domain: typed models, parsers of LM Studio's outputs, rules and state machines.

No Qt, no HTTP, no keyring and no file I/O here (checked by import-linter).
"""
