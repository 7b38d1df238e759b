#!/usr/bin/env python3
"""Runs glow-serve's TorchScript inference pass on another PyTorch (CUDA, or this machine's CPU) and checks it.

Input: a folder written by `java -jar target/glow-serve.jar export-script --out DIR`: the archive libtorch compiles
from the shipped GlowInference.torchscript (GlowInference.pt), the arguments glow-serve's ScriptedPass binds
(arguments.safetensors: every weight under the name the script reads it by; arguments.json: routes, settings,
constants) and test images with the bits/dim the service gave them on CPU.

Prints the largest relative difference of bits/dim against the CPU service's, the decode round trip's largest
error, and encode and decode img/s at each --batches size. Needs only torch (no safetensors package, no Java).
"""
import argparse
import json
import math
import struct
import sys
import time
from pathlib import Path

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    data = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def arguments(folder, device):
    meta = json.loads((folder / "arguments.json").read_text())
    tensors = {k: v.to(device) for k, v in read_safetensors(folder / "arguments.safetensors").items()}
    steps = [[{key: tensors[f"steps.{l}.{k}.{key}"] for key in meta["step_keys"][l]} for k in range(n)]
             for l, n in enumerate(meta["steps_per_level"])]
    levels = [{key: tensors[f"levels.{l}.{key}"] for key in keys} for l, keys in enumerate(meta["level_keys"])]
    # off the CPU no route prepacks: an empty dictionary of packed kernels per step
    packed_convs = [[{} for _ in range(n)] for n in meta["steps_per_level"]]
    packed_gemms = [[{} for _ in range(n)] for n in meta["steps_per_level"]]
    return meta, steps, levels, packed_convs, packed_gemms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tf32", action="store_true", help="let cuDNN and cuBLAS use TF32 (PyTorch lets cuDNN by "
                        "default: 10-bit mantissas, bits/dim then differ from the CPU's by about 1e-4)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch._C._set_graph_executor_optimize(False)  # as glow-serve runs it: no re-specialisation per batch size
    module = load(args.folder / "GlowInference.pt", device)
    meta, steps, levels, packed_convs, packed_gemms = arguments(args.folder, device)
    dtype = torch.float64 if meta["data_type"] == "float64" else torch.float32
    c, h, w = meta["shape"]
    dims = c * h * w
    bins = 2 ** meta["n_bits"]
    pixels = torch.tensor(meta["images"], dtype=torch.int64).reshape(-1, c, h, w)
    x_all = ((pixels >> (8 - meta["n_bits"])).to(torch.float64) / bins - 0.5 + 0.5 / bins).to(dtype).to(device)
    labels_all = torch.tensor(meta["labels"], dtype=torch.int64, device=device)
    conditional = labels_all.numel() > 0

    def encode(x, labels):
        return module.encode(x=x, labels=labels, steps=steps, levels=levels, routes=meta["routes"],
                             log_norm=meta["log_norm"], settings=meta["settings"],
                             constant_log_det=meta["constant_log_det"], packed_convs=packed_convs,
                             packed_gemms=packed_gemms)

    def decode(eps, labels):
        return module.decode(latents=eps, labels=labels, standardised=True, steps=steps, levels=levels,
                             routes=meta["routes"], settings=meta["settings"], bounds=meta["bounds"],
                             packed_convs=packed_convs, packed_gemms=packed_gemms)

    with torch.inference_mode():
        out = encode(x_all, labels_all)
        log_px = (out["log_det"][0] + out["log_p"][0]).double().cpu()
        bpd = -(log_px - dims * math.log(bins)) / (dims * math.log(2))
        cpu = torch.tensor(meta["cpu_bits_per_dim"], dtype=torch.float64)
        relative = ((bpd - cpu).abs() / cpu.abs()).max().item()
        back = decode(out["eps"], labels_all)
        round_trip = (back - x_all).abs().max().item()
        print(f"torch {torch.__version__} on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
              f"TF32 {'on' if args.tf32 else 'off'}")
        print(f"model {meta['model']}: {pixels.shape[0]} images; bits/dim here {bpd.mean():.6f}, on the CPU service "
              f"({meta['cpu_pass']}) {cpu.mean():.6f}; largest relative difference {relative:.2e}; "
              f"decode(encode(x)) largest error {round_trip:.2e}")
        print("| batch | encode img/s | decode img/s |")
        print("|---:|---:|---:|")
        for batch in [int(b) for b in args.batches.split(",")]:
            reps = (batch + x_all.shape[0] - 1) // x_all.shape[0]
            x = x_all.repeat(reps, 1, 1, 1)[:batch].contiguous()
            labels = labels_all.repeat(reps)[:batch] if conditional else labels_all
            eps = [e.repeat(reps, 1, 1, 1)[:batch].contiguous() for e in out["eps"]]
            rates = []
            for call in (lambda: encode(x, labels), lambda: decode(eps, labels)):
                for _ in range(3):
                    call()
                sync(device)
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.seconds or n < 5:
                    call()
                    n += 1
                sync(device)
                rates.append(batch * n / (time.perf_counter() - t0))
            print(f"| {batch} | {rates[0]:.1f} | {rates[1]:.1f} |")
        ok = relative <= 1e-4
        print("bits/dim within 1e-4 relative of the CPU service's: " + ("yes" if ok else "NO"))
        return 0 if ok else 1


def load(archive, device):
    """The archive as exported; a PyTorch without oneDNN's CPU-only GEMM ops (never taken off CPU) gets them swapped
    for plain ones, and says so."""
    try:
        return torch.jit.load(str(archive), map_location=device)
    except RuntimeError as e:
        if "mkldnn" not in str(e):
            raise
        print(f"this PyTorch lacks a oneDNN op the CPU routes use ({str(e).strip().splitlines()[0]}); "
              "compiling with plain ops in their place (routes without oneDNN never call them)")
    import io
    import zipfile
    swaps = {
        'ops.mkldnn._linear_pointwise(rows, gemms["hidden"], w["hidden_bias"], "relu", no_scalars, None)':
            'torch.relu(torch.linear(rows, gemms["hidden"], w["hidden_bias"]))',
        'ops.mkldnn._linear_pointwise(rows, gemms["taps"], None, "none", no_scalars, None)': 'torch.linear(rows, gemms["taps"])',
        'ops.mkldnn._reorder_linear_weight(w["hidden_kernel"], rows)': 'w["hidden_kernel"]',
        'ops.mkldnn._reorder_linear_weight(w["zero_taps"], rows)': 'w["zero_taps"]',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("__torch__.py"):
                text = data.decode()
                for old, new in swaps.items():
                    text = text.replace(old, new)
                data = text.encode()
            out.writestr(zipfile.ZipInfo(name), data)
    buffer.seek(0)
    return torch.jit.load(buffer, map_location=device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    sys.exit(main())
