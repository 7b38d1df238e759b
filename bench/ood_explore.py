#!/usr/bin/env python3
"""Out-of-distribution scores glow-serve does not ship, measured against the ones it does, on the development sets.

Talks to a running glow-serve over the Open Inference Protocol only (binary tensors), Python's standard library only:

    java -jar target/glow-serve.jar --server.port=18090 &
    python3 bench/ood_explore.py --url http://localhost:18090 --digits target/mnist/package/src/digits

In-distribution: Fashion-MNIST test images 0..4999, calibrated on 5000..9999 (the flag rate is p < 0.05 against them).
Out: MNIST digits, uniform noise, constant images, inverted and upside-down test images 0..4999. Scores (higher: more
anomalous): bits/dim; bits/dim minus several lossless compressors' bits/dim; the top level's latent energy; the
classifier's doubt, 1 - max p(class | x); and the orientation test bpd(x) - bpd(upside-down x), alone and combined with
complexity (the smaller of the two p-values, recalibrated), which needs a second pass over every image.
"""
import argparse
import array
import bisect
import bz2
import gzip
import json
import lzma
import random
import struct
import urllib.request
import zlib

HEADER = "Inference-Header-Content-Length"


def idx(path):
    b = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    n, h, w = struct.unpack(">III", b[4:16])
    return [b[16 + i * h * w:16 + (i + 1) * h * w] for i in range(n)]


def digits(folder):
    out = []
    for d in range(10):
        data = json.load(open(f"{folder}/{d}.json"))["data"]
        out += [bytes(round(v * 255) for v in data[i * 784:(i + 1) * 784]) for i in range(len(data) // 784)]
    return out


def flip(im):
    return b"".join(im[(27 - r) * 28:(28 - r) * 28] for r in range(28))


def infer(url, model, images):
    """Every output of the protocol model for these images, as flat arrays."""
    out = {}
    for s in range(0, len(images), 64):
        chunk = images[s:s + 64]
        payload = b"".join(chunk)
        header = json.dumps({"inputs": [{"name": "IMAGES", "datatype": "UINT8", "shape": [len(chunk), 1, 28, 28],
                                         "parameters": {"binary_data_size": len(payload)}}],
                             "parameters": {"binary_data_output": True}}).encode()
        req = urllib.request.Request(f"{url}/v2/models/{model}/infer", data=header + payload,
                                     headers={"Content-Type": "application/octet-stream", HEADER: str(len(header))})
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            length = int(r.headers[HEADER])
        offset = length
        for o in json.loads(raw[:length])["outputs"]:
            size = o["parameters"]["binary_data_size"]
            a = array.array({"FP32": "f", "FP64": "d", "INT64": "q"}[o["datatype"]])
            a.frombytes(raw[offset:offset + size])
            offset += size
            out.setdefault(o["name"], []).extend(a)
    return out


def png_filtered(im, kind):
    out, prev = bytearray(), bytes(28)
    for r in range(28):
        row = im[r * 28:(r + 1) * 28]
        if kind == "up":
            out.append(2)
            out += bytes((row[i] - prev[i]) & 255 for i in range(28))
        elif kind == "paeth":
            out.append(4)
            for i in range(28):
                a, b, c = (row[i - 1] if i else 0), prev[i], (prev[i - 1] if i else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                out.append((row[i] - (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255)
        else:
            out.append(0)
            out += row
        prev = row
    return bytes(out)


COMPRESSORS = {
    "png-up": lambda im: len(zlib.compress(png_filtered(im, "up"), 9)),
    "png-paeth": lambda im: len(zlib.compress(png_filtered(im, "paeth"), 9)),
    "png-none": lambda im: len(zlib.compress(png_filtered(im, "none"), 9)),
    "zlib (raw pixels)": lambda im: len(zlib.compress(im, 9)),
    "bzip2": lambda im: len(bz2.compress(im, 9)),
    "lzma": lambda im: len(lzma.compress(im, format=lzma.FORMAT_RAW,
                                        filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
                                                  "dict_size": 4096}])),  # the smallest dictionary: 784 bytes fit
}


def auroc(inn, out):
    v = sorted([(x, 0) for x in inn] + [(x, 1) for x in out])
    rank_sum, i = 0.0, 0
    while i < len(v):
        j = i
        while j < len(v) and v[j][0] == v[i][0]:
            j += 1
        rank_sum += sum((i + j + 1) / 2 for k in range(i, j) if v[k][1])
        i = j
    return (rank_sum - len(out) * (len(out) + 1) / 2) / (len(inn) * len(out))


def p_values(held, scores):
    s = sorted(held)
    return [(len(s) - bisect.bisect_left(s, x)) / len(s) for x in scores]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://localhost:8080")
    ap.add_argument("--model", default="fashion-mnist")
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--digits", default="target/mnist/package/src/digits")
    a = ap.parse_args()
    test = idx(a.fashion)
    rnd = random.Random(1)
    sets = {"held": test[5000:], "in": test[:5000], "mnist": digits(a.digits),
            "noise": [bytes(rnd.randrange(256) for _ in range(784)) for _ in range(1000)],
            "constant": [bytes([v]) * 784 for v in range(256)],
            "inverted": [bytes(255 - x for x in im) for im in test[:5000]],
            "flipped": [flip(im) for im in test[:5000]]}
    f = {}
    for name, ims in sets.items():
        score = infer(a.url, a.model, ims)
        back = infer(a.url, a.model, [flip(im) for im in ims])
        enc = infer(a.url, a.model + "-encode", ims)
        n = len(ims)
        d1 = len(enc["EPS_1"]) // n
        probs = score.get("CLASS_PROBABILITIES")
        k = len(probs) // n if probs else 0
        f[name] = {"bpd": score["BITS_PER_DIM"], "flipped_bpd": back["BITS_PER_DIM"],
                   "top_energy": [sum(v * v for v in enc["EPS_1"][i * d1:(i + 1) * d1]) / 2 for i in range(n)],
                   "doubt": [1 - max(probs[i * k:(i + 1) * k]) for i in range(n)] if probs else [0.0] * n}
        for c, fn in COMPRESSORS.items():
            f[name][c] = [fn(im) * 8 / 784 for im in ims]
    methods = {"likelihood (bits/dim)": lambda s, i: s["bpd"][i]}
    for c in COMPRESSORS:
        methods[f"complexity, {c}"] = (lambda c: lambda s, i: s["bpd"][i] - s[c][i])(c)
    methods["top level's latent energy"] = lambda s, i: s["top_energy"][i]
    methods["classifier doubt, 1 - max p(class | x)"] = lambda s, i: s["doubt"][i]
    methods["orientation, bpd(x) - bpd(upside-down x) (2 passes)"] = lambda s, i: s["bpd"][i] - s["flipped_bpd"][i]
    names = ["mnist", "noise", "constant", "inverted", "flipped"]
    print("| score | in-distribution flagged | " + " | ".join(f"{n} AUROC / flagged" for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    scores = {}
    for m, fn in methods.items():
        scores[m] = {name: [fn(s, i) for i in range(len(s["bpd"]))] for name, s in f.items()}
        sc = scores[m]
        row = [m, f"{sum(p < 0.05 for p in p_values(sc['held'], sc['in'])) / 5000:.3f}"]
        for n in names:
            flagged = sum(p < 0.05 for p in p_values(sc["held"], sc[n])) / len(sc[n])
            row.append(f"{auroc(sc['in'], sc[n]):.4f} / {flagged:.3f}")
        print("| " + " | ".join(row) + " |")
    # complexity and orientation together: the smaller p-value of the two, itself calibrated on the held-out images
    c, o = scores["complexity, png-up"], scores["orientation, bpd(x) - bpd(upside-down x) (2 passes)"]
    combined = {n: [-min(pc, po) for pc, po in zip(p_values(c["held"], c[n]), p_values(o["held"], o[n]))] for n in f}
    row = ["complexity + orientation, min p (2 passes)",
           f"{sum(p < 0.05 for p in p_values(combined['held'], combined['in'])) / 5000:.3f}"]
    for n in names:
        flagged = sum(p < 0.05 for p in p_values(combined["held"], combined[n])) / len(combined[n])
        row.append(f"{auroc(combined['in'], combined[n]):.4f} / {flagged:.3f}")
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
