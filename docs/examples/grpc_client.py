#!/usr/bin/env python3
"""A glow-serve client over the Open Inference Protocol's gRPC service, with grpcio and protobuf only.

The messages are generated from the service's own .proto at start (protoc), and every call is a generic unary call:
no generated service stub, no tritonclient. Samples images, scores them with raw tensors, checks that decoding their
latents gives them back, and shows a refusal's status code:

    apt-get install -y python3-grpcio python3-protobuf protobuf-compiler
    python3 docs/examples/grpc_client.py --target localhost:8081 --model fashion-mnist
"""
import argparse
import importlib
import os
import struct
import subprocess
import sys
import tempfile

import grpc

SERVICE = "/inference.GRPCInferenceService/"
PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "main", "proto", "open_inference_grpc.proto")


def messages(proto):
    """The protocol's message classes, generated from its .proto into a temporary folder."""
    out = tempfile.mkdtemp(prefix="oip-")
    subprocess.run(["protoc", "-I", os.path.dirname(os.path.abspath(proto)), "--python_out", out, os.path.basename(proto)], check=True)
    sys.path.insert(0, out)
    return importlib.import_module(os.path.splitext(os.path.basename(proto))[0] + "_pb2")


class Client:
    def __init__(self, target, api_key, pb):
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)])
        self.metadata = [("authorization", "Bearer " + api_key)] if api_key else []
        self.pb = pb

    def call(self, method, request, response_type):
        rpc = self.channel.unary_unary(SERVICE + method, request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response_type.FromString)
        return rpc(request, metadata=self.metadata, timeout=60)

    def infer(self, model, inputs):
        """inputs: (name, datatype, shape, little-endian bytes); answers {name: (datatype, shape, bytes)}."""
        request = self.pb.ModelInferRequest(model_name=model)
        for name, datatype, shape, raw in inputs:
            request.inputs.add(name=name, datatype=datatype, shape=shape)
            request.raw_input_contents.append(raw)
        reply = self.call("ModelInfer", request, self.pb.ModelInferResponse)
        return {o.name: (o.datatype, list(o.shape), reply.raw_output_contents[i]) for i, o in enumerate(reply.outputs)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="localhost:8081")
    p.add_argument("--model", default="fashion-mnist")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--api-key")
    p.add_argument("--proto", default=PROTO)
    a = p.parse_args()
    pb = messages(a.proto)
    c = Client(a.target, a.api_key, pb)
    m = a.model

    print("live:", c.call("ServerLive", pb.ServerLiveRequest(), pb.ServerLiveResponse).live)
    meta = c.call("ModelMetadata", pb.ModelMetadataRequest(name=m + "-encode"), pb.ModelMetadataResponse)
    print("encode takes", [(t.name, t.datatype, list(t.shape)) for t in meta.inputs], "and gives", [t.name for t in meta.outputs])

    # n samples at temperature 0.7 from seed 1, as raw tensors
    out = c.infer(m + "-sample", [("TEMPERATURE", "FP32", [a.n], struct.pack(f"<{a.n}f", *[0.7] * a.n)),
                                  ("SEED", "INT64", [1], struct.pack("<q", 1))])
    _, shape, images = out["IMAGES"]
    print("sampled", shape)

    scores = c.infer(m, [("IMAGES", "UINT8", shape, images)])
    bits = struct.unpack(f"<{a.n}d", scores["BITS_PER_DIM"][2])
    print("bits/dim", " ".join(f"{b:.4f}" for b in bits))

    # encode, then decode the latents (and, on a class-conditional model, the class they are relative to)
    enc = c.infer(m + "-encode", [("IMAGES", "UINT8", shape, images)])
    back = c.infer(m + "-decode", [(name, t, s, raw) for name, (t, s, raw) in enc.items() if name.startswith("EPS_") or name == "CLASS"])
    print("decode(encode(x)) == x:", back["IMAGES"][2] == images)

    try:
        c.infer(m + "-nope", [("IMAGES", "UINT8", shape, images)])
    except grpc.RpcError as e:
        print("unknown model:", e.code().name)


if __name__ == "__main__":
    main()
