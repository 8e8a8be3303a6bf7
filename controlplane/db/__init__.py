"""Engines, column types and schema (Alembic) helpers."""
