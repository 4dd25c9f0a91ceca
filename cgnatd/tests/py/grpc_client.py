#!/usr/bin/env python3
"""A third-party gRPC client against cgnatd: the standard grpcio health check
(grpcio-health-checking) and a call to cgnat.v1.CgnatService/GetStatus built only from what
server reflection (grpc.reflection.v1alpha, grpcio-reflection) returns: no .proto files, no
generated code of ours. Prints one JSON object; exit 1 on any failure.

usage: grpc_client.py HOST:PORT
"""
import json
import sys

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> int:
    addr = sys.argv[1]
    ch = grpc.insecure_channel(addr)
    grpc.channel_ready_future(ch).result(timeout=10)
    health = health_pb2_grpc.HealthStub(ch)
    out = {"health": {}}
    for svc in ["", "cgnat.v1.CgnatService"]:
        r = health.Check(health_pb2.HealthCheckRequest(service=svc), timeout=5)
        out["health"][svc] = health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
    db = ProtoReflectionDescriptorDatabase(ch)
    out["services"] = sorted(db.get_services())
    pool = DescriptorPool(db)
    method = pool.FindServiceByName("cgnat.v1.CgnatService").FindMethodByName("GetStatus")
    req_cls = message_factory.GetMessageClass(method.input_type)
    resp_cls = message_factory.GetMessageClass(method.output_type)
    call = ch.unary_unary(
        "/cgnat.v1.CgnatService/GetStatus",
        request_serializer=req_cls.SerializeToString,
        response_deserializer=resp_cls.FromString,
    )
    resp = call(req_cls(), timeout=5)
    out["status"] = json_format.MessageToDict(resp, preserving_proto_field_name=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
