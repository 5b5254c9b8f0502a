"""Seed files: reading JSON or TOML with line numbers (``source``), building their images (``images``) and loading
them as a starting state (``loader``)."""
