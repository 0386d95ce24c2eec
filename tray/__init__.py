"""LM Studio Tray: a system-tray companion for LM Studio."""

__version__ = "0.1.0"
APP_ID = "ai.lmstudio-tray.LMStudioTray"
APP_NAME = "LM Studio Tray"
