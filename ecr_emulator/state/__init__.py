"""Durable state under ``--state-dir``: the record encoding (``codec``), the snapshot and journal (``persistence``),
start-up and rollback (``recovery``), and export/import archives (``archive``)."""
