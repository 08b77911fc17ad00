"""Builds the `weir` package, generating its gRPC stubs (weir/v1/*_pb2*.py)
from the repository's proto/ folder with grpcio-tools first."""
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent / "proto"
OUT = HERE  # the stubs import each other as weir.v1.*: they live in weir/v1/


def generate_stubs() -> None:
    """Runs protoc (grpcio-tools) over proto/weir/v1/*.proto into weir/v1/."""
    protos = sorted(PROTO.glob("weir/v1/*.proto"))
    if not protos:
        if (HERE / "weir" / "v1" / "services_pb2.py").exists():
            return  # a source tree without proto/ that already has them
        raise SystemExit(f"no .proto files under {PROTO}: build from a checkout of the Weir repository")
    from grpc_tools import protoc  # a build requirement (pyproject.toml)
    import grpc_tools

    include = Path(grpc_tools.__file__).resolve().parent / "_proto"
    args = ["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={OUT}", f"--pyi_out={OUT}",
            f"--grpc_python_out={OUT}"] + [str(p) for p in protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed on " + " ".join(str(p) for p in protos))
    (OUT / "weir" / "v1" / "__init__.py").write_text('"""Generated from proto/weir/v1 (setup.py)."""\n')


if __name__ == "__main__":
    # Before setup(): every build step (metadata too) needs weir/v1 to exist.
    generate_stubs()
    setup()
