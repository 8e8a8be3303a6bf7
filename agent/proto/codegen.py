"""Regenerate the Python gRPC code from `proto/` (`python -m agent.proto.codegen`).

The generated modules are checked in, so installing mmbot needs no protoc; a test regenerates
them into a temporary directory and compares byte for byte, so a .proto edit without a
regeneration (or a grpcio-tools upgrade without one) fails loudly. grpcio-tools is a dev
dependency and is imported only here.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PROTO_ROOT = ROOT / "proto"


def proto_files() -> list[Path]:
    """Every .proto under `proto/`, relative to it (the path decides the Python module)."""
    return sorted(p.relative_to(PROTO_ROOT) for p in PROTO_ROOT.rglob("*.proto"))


def generated_files() -> list[Path]:
    """The files `generate` writes, relative to the output root."""
    out = []
    for rel in proto_files():
        stem = rel.with_suffix("")
        out += [
            stem.with_name(stem.name + "_pb2.py"),
            stem.with_name(stem.name + "_pb2.pyi"),
            stem.with_name(stem.name + "_pb2_grpc.py"),
        ]
    return out


def generate(out_dir: Path) -> list[Path]:
    """Run protoc (from grpcio-tools) into `out_dir`; returns the written files."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p) for p in proto_files()],
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    return [out_dir / p for p in generated_files()]


def main() -> int:
    for path in generate(ROOT):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
