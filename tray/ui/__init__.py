"""PySide6 views: render state objects, turn gestures into service calls. Thin."""
