"""protoc-gen-grpc_python for buf: grpcio-tools builds its gRPC generator into its protoc only, so run that.

A protoc plugin reads a CodeGeneratorRequest on stdin and writes a CodeGeneratorResponse on
stdout; this one hands the request's descriptors to grpcio-tools' protoc (`--grpc_python_out`)
and answers with the files it wrote.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    # grpcio-tools' generator handles proto3 `optional` fields (field_rules.proto has them).
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as work:
        descriptors = Path(work, "descriptors.binpb")
        descriptors.write_bytes(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = Path(work, "out")
        out.mkdir()
        options = [f"--grpc_python_opt={request.parameter}"] if request.parameter else []
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"--descriptor_set_in={descriptors}",
                f"--grpc_python_out={out}",
                *options,
                *request.file_to_generate,
            ]
        )
        if code != 0:
            response.error = f"grpc_tools.protoc exited with {code}"
            return response
        for path in sorted(out.rglob("*.py")):
            response.file.add(name=str(path.relative_to(out)), content=path.read_text())
    return response


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
