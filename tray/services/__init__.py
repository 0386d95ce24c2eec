"""Adapters to the outside: LM Studio's HTTP API, the `lms` CLI, files, settings.

One module owns each outside thing; everything else calls it.
"""
