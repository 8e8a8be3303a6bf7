"""Generated code for `mmbot.agent.v1`: do not edit; run `python -m agent.proto.codegen`."""
