#!/usr/bin/env python3
"""A glow-serve client that speaks only the Open Inference Protocol (KServe V2), with the Python standard library.

Samples images, scores them with binary tensors, and checks that decoding their latents gives them back:

    python3 docs/examples/v2_client.py --url http://localhost:8080 --model fashion-mnist
"""
import argparse
import json
import struct
import urllib.error
import urllib.request

HEADER = "Inference-Header-Content-Length"
SIZES = {"UINT8": 1, "INT64": 8, "FP32": 4, "FP64": 8}
FORMATS = {"UINT8": "B", "INT64": "q", "FP32": "f", "FP64": "d"}


def call(url, path, body=None, binary=(), api_key=None):
    """POST (or GET without a body) one request; binary tensors follow the JSON header. An inference answers its outputs
    by name: (shape, values) for JSON data, (shape, values, bytes) for binary data."""
    headers = {"X-API-Key": api_key} if api_key else {}
    data = None
    if body is not None:
        header = json.dumps(body).encode()
        data = header + b"".join(binary)
        headers["Content-Type"] = "application/octet-stream" if binary else "application/json"
        if binary:
            headers[HEADER] = str(len(header))
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            length = int(response.headers.get(HEADER) or len(raw))
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{path}: HTTP {e.code}: {json.loads(e.read())['error']}")
    reply = json.loads(raw[:length])
    if not path.endswith("/infer"):
        return reply
    outputs, offset = {}, length
    for out in reply["outputs"]:
        if "data" in out:
            outputs[out["name"]] = (out["shape"], out["data"])
            continue
        size = out["parameters"]["binary_data_size"]
        count = size // SIZES[out["datatype"]]
        values = struct.unpack(f"<{count}{FORMATS[out['datatype']]}", raw[offset:offset + size])
        outputs[out["name"]] = (out["shape"], values, raw[offset:offset + size])
        offset += size
    return outputs


def tensor(name, datatype, shape, payload):
    """A binary input: its JSON description and its little-endian bytes."""
    return {"name": name, "datatype": datatype, "shape": shape, "parameters": {"binary_data_size": len(payload)}}, payload


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://localhost:8080")
    p.add_argument("--model", default="fashion-mnist")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--api-key")
    a = p.parse_args()
    m = a.model

    meta = call(a.url, f"/v2/models/{m}-encode")
    print("encode takes", [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]],
          "and gives", [t["name"] for t in meta["outputs"]])

    # n samples at temperature 0.7 from seed 1, the images as binary data
    sample = {"inputs": [{"name": "TEMPERATURE", "datatype": "FP32", "shape": [a.n], "data": [0.7] * a.n},
                         {"name": "SEED", "datatype": "INT64", "shape": [1], "data": [1]}],
              "outputs": [{"name": "IMAGES", "parameters": {"binary_data": True}}]}
    shape, _, images = call(a.url, f"/v2/models/{m}-sample/infer", sample, api_key=a.api_key)["IMAGES"]
    print("sampled", shape)

    # score them, the images sent as binary data
    desc, payload = tensor("IMAGES", "UINT8", shape, images)
    score = {"inputs": [desc], "outputs": [{"name": "BITS_PER_DIM", "parameters": {"binary_data": True}}]}
    _, bits, _ = call(a.url, f"/v2/models/{m}/infer", score, [payload], a.api_key)["BITS_PER_DIM"]
    print("bits/dim", " ".join(f"{b:.4f}" for b in bits))

    # encode, then decode the latents (and, for a class-conditional model, the class they are relative to)
    encoded = call(a.url, f"/v2/models/{m}-encode/infer", {"inputs": [desc], "parameters": {"binary_data_output": True}},
                   [payload], a.api_key)
    inputs, tensors = [], []
    for name in sorted(k for k in encoded if k.startswith("EPS_") or k == "CLASS"):
        d, t = tensor(name, "INT64" if name == "CLASS" else "FP32", encoded[name][0], encoded[name][2])
        inputs.append(d)
        tensors.append(t)
    decoded = call(a.url, f"/v2/models/{m}-decode/infer",
                   {"inputs": inputs, "outputs": [{"name": "IMAGES", "parameters": {"binary_data": True}}]}, tensors, a.api_key)
    same = decoded["IMAGES"][2] == images
    print("decode(encode(x)) == x:", same)
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
