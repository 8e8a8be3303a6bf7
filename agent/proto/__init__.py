"""Generated gRPC code for the agent API; the contract itself lives in `proto/`.

Import the modules as `from agent.proto.mmbot.agent.v1 import agent_pb2, agent_pb2_grpc`.
The package path mirrors the .proto path so the generated imports work unpatched.
"""
