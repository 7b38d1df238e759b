"""Side-by-side tables of `glow-serve load` runs (JSON lines), for bench/load.sh: per row two lists of rounds, the
medians of their images/s, the ratio of the medians, each round's ratio, the medians of a latency, the non-200s."""
import json
import statistics


def runs(path, key=lambda r: r["op"]):
    """The runs of a JSON-lines file grouped by key, each group in file order (round by round)."""
    grouped = {}
    for line in open(path):
        r = json.loads(line)
        grouped.setdefault(key(r), []).append(r)
    return grouped


def table(title, labels, first, second, ratio, paired, rows, cost=False, latency="p99"):
    """labels: the row-label columns as (name, Markdown alignment); rows: (label cells, first's runs, second's runs).
    The ratio is second / first images/s, or first / second when it is a cost."""
    print(f"\n## {title}")
    names = [n for n, _ in labels] + [f"{first} img/s", f"{second} img/s", ratio, paired, f"{first} {latency} ms",
                                      f"{second} {latency} ms", "non-200"]
    print("| " + " | ".join(names) + " |")
    print("|" + "".join(f"{a}|" for _, a in labels) + "---:|---:|---:|---|---:|---:|---:|")
    for cells, a, b in rows:
        x = statistics.median(r["imagesPerSecond"] for r in a)
        y = statistics.median(r["imagesPerSecond"] for r in b)
        each = [p["imagesPerSecond"] / q["imagesPerSecond"] if cost else q["imagesPerSecond"] / p["imagesPerSecond"]
                for p, q in zip(a, b)]
        bad = sum(v for r in a + b for k, v in r["statuses"].items() if k != "200") + sum(r["transportErrors"] for r in a + b)
        ms = latency + "Ms"
        print(f"| {' | '.join(cells)} | {x:.1f} | {y:.1f} | {x / y if cost else y / x:.3f} | {' '.join(f'{e:.3f}' for e in each)} | "
              f"{statistics.median(r[ms] for r in a):.1f} | {statistics.median(r[ms] for r in b):.1f} | {bad} |")
