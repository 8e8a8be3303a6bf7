"""Alembic migrations of the control-plane schema (run with `mmbot controlplane migrate`)."""
