"""Generated code for the protobuf package `mmbot` (see agent/proto/__init__.py)."""
