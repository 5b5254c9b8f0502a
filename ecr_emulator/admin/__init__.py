"""The emulator's own control API under ``/_emulator/``: health, reset, clock, lifecycle, export/import
(``routes``) and declared scan findings (``scan_findings``)."""
