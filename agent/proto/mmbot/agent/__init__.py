"""Generated code for the protobuf package `mmbot.agent` (see agent/proto/__init__.py)."""
