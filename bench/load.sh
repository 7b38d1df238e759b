#!/usr/bin/env bash
# Load benchmark of the packaged service on this machine (loopback only).
#
#   bench/load.sh            offline batch-64 baseline, then sample and log-likelihood at 1, 8, 32, 64 clients, 30 s each
#   bench/load.sh soak       10 minutes at 32 clients, server RSS every 30 s
#   bench/load.sh overload   256 clients against a queue of 16 for 30 s (429s, health latency), then 4 clients (recovery)
#   bench/load.sh v2         /v1 and the Open Inference Protocol (binary tensors) side by side at 32 clients: score and
#                            sample, ROUNDS rounds (default 3) alternating the two, then the medians and their ratio
#   bench/load.sh grpc       the Open Inference Protocol over gRPC (raw tensors) against REST V2 (binary tensors) at 32
#                            clients: score and sample after a warm-up, ROUNDS rounds (default 4) with the two taking
#                            turns going first, then the medians and their ratio
#   bench/load.sh ood        /ood against /log-likelihood of the same image, side by side at 1 and 32 clients, ROUNDS rounds
#   A_JAR=FILE B_JAR=FILE bench/load.sh jars
#                            two builds of the service in turn (ROUNDS rounds, default 3, the builds alternating which goes
#                            first): log-likelihood over /v1 and V2 at 32 clients, then the medians and the ratio B / A
#   A=DIR B=DIR bench/load.sh models
#                            two model folders served in turn (ROUNDS rounds, alternating servers): log-likelihood and
#                            sample at 32 clients, then the medians and the ratio B / A
#
# Results go to bench/results/ (JSON lines) and are printed as Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-sweep}
PORT=${PORT:-18080}
GRPC_PORT=${GRPC_PORT:-18081}
MANAGEMENT_PORT=${MANAGEMENT_PORT:-18082}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
JAR=target/glow-serve.jar
OUT=bench/results
mkdir -p "$OUT"
[ -f "$JAR" ] || ./mvnw -B -q -DskipTests package
# OpenMP threads spin between ops (the default, no OMP_WAIT_POLICY=PASSIVE): passive waiting tripled
# batch-1 latency (measured: 17 ms vs 41 ms)
# a bounded heap, as in the container (the rest of the memory is libtorch's)
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS:--Xmx768m}

start_server() {
  java $SERVER_JAVA_OPTS -jar "${SERVER_JAR:-$JAR}" --server.port="$PORT" --management.server.port="$MANAGEMENT_PORT" \
    --glow.grpc.port="$GRPC_PORT" "$@" \
    > "$OUT/server-$MODE.log" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$MANAGEMENT_PORT/actuator/health/readiness" > /dev/null 2>&1; then return; fi
    sleep 1
  done
  echo "server did not become ready" >&2; exit 1
}

load() {
  java -jar "$JAR" load --url "http://127.0.0.1:$PORT" --management-url "http://127.0.0.1:$MANAGEMENT_PORT" \
    --grpc-port "$GRPC_PORT" --json "$OUT/$MODE.jsonl" "$@"
}

case "$MODE" in
  sweep)
    rm -f "$OUT/sweep.jsonl" "$OUT/offline.json"
    echo "## offline baseline (same model, batch 64, no HTTP)"
    java -jar "$JAR" bench --model classpath:models/fashion-mnist --batches 64 --seconds 10 --json "$OUT/offline.json"
    start_server
    echo "## sample, n=1 per request"
    load --op sample --concurrency 1,8,32,64 --seconds "$SECONDS_PER_RUN"
    echo "## log-likelihood, 1 image per request"
    load --op log-likelihood --concurrency 1,8,32,64 --seconds "$SECONDS_PER_RUN"
    python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
off = json.load(open(f"{out}/offline.json"))["rows"][0]
base = {"sample": off["sampleImgPerSec"], "log-likelihood": off["encodeImgPerSec"]}
print("\n## served images/s against offline batch-64 throughput measured in this run")
print(f"offline batch 64: sample {base['sample']:.1f} img/s, encode {base['log-likelihood']:.1f} img/s")
print("| op | clients | served img/s | ratio | p99/p50 | 5xx |")
print("|---|---:|---:|---:|---:|---:|")
for line in open(f"{out}/sweep.jsonl"):
    r = json.loads(line)
    fivexx = sum(v for k, v in r["statuses"].items() if int(k) >= 500)
    print(f"| {r['op']} | {r['concurrency']} | {r['imagesPerSecond']:.1f} | {r['imagesPerSecond']/base[r['op']]:.2f} | "
          f"{r['p99Ms']/r['p50Ms']:.2f} | {fivexx} |")
PY
    ;;
  soak)
    rm -f "$OUT/soak.jsonl"
    start_server
    load --op sample --concurrency 32 --seconds 600 --rss-pid "$SERVER" --rss-every 30
    python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(open(f"{sys.argv[1]}/soak.jsonl").readline())
rss = [k / 1024 for k in r["rssKb"]]
print("RSS MB every 30 s:", " ".join(f"{m:.0f}" for m in rss))
window = rss[4:]  # minute 2 onwards
print(f"minute 2..10: min {min(window):.0f} MB, max {max(window):.0f} MB, spread {(max(window)-min(window))/min(window)*100:.1f}%")
print("statuses:", r["statuses"], "transport errors:", r["transportErrors"])
PY
    ;;
  overload)
    rm -f "$OUT/overload.jsonl"
    start_server --glow.batching.queue-capacity=16
    echo "## 256 clients against a queue of 16, retrying at once after a 429"
    load --op sample --concurrency 256 --seconds "$SECONDS_PER_RUN" --health
    echo "## 256 clients honouring Retry-After"
    load --op sample --concurrency 256 --seconds "$SECONDS_PER_RUN" --health --honor-retry-after
    echo "## load dropped to 4 clients"
    load --op sample --concurrency 4 --seconds 10 --health
    ;;
  v2)
    rm -f "$OUT/v2.jsonl"
    start_server
    for round in $(seq 1 "${ROUNDS:-3}"); do
      echo "## round $round"
      for op in log-likelihood v2-log-likelihood sample v2-sample; do
        load --op "$op" --concurrency 32 --seconds "$SECONDS_PER_RUN"
      done
    done
    python3 - "$OUT" <<'PY'
import sys
sys.path.insert(0, "bench")
from side_by_side import runs, table
r = runs(f"{sys.argv[1]}/v2.jsonl")
table("served images/s at 32 clients, /v1 against V2 with binary tensors (medians of the rounds)", [("op", "---")],
      "/v1", "V2", "V2 / v1", "paired ratios", [([op], r[op], r["v2-" + op]) for op in ("log-likelihood", "sample")])
PY
    ;;
  grpc)
    rm -f "$OUT/grpc.jsonl"
    start_server
    echo "## warm-up (not counted)"
    for op in v2-log-likelihood grpc-log-likelihood v2-sample grpc-sample; do
      MODE=grpc-warmup load --op "$op" --concurrency 32 --seconds 5 > /dev/null
    done
    for round in $(seq 1 "${ROUNDS:-4}"); do
      echo "## round $round"
      # the two transports take turns going first (A B, then B A), so that neither gains from the order
      first=v2; second=grpc
      [ $((round % 2)) = 0 ] && { first=grpc; second=v2; }
      for op in log-likelihood sample; do
        load --op "$first-$op" --concurrency 32 --seconds "$SECONDS_PER_RUN"
        load --op "$second-$op" --concurrency 32 --seconds "$SECONDS_PER_RUN"
      done
    done
    python3 - "$OUT" <<'PY'
import sys
sys.path.insert(0, "bench")
from side_by_side import runs, table
r = runs(f"{sys.argv[1]}/grpc.jsonl")
table("served images/s at 32 clients, REST V2 (binary tensors) against gRPC (raw tensors), medians of the rounds",
      [("op", "---")], "REST V2", "gRPC", "gRPC / REST", "paired ratios",
      [([op], r["v2-" + op], r["grpc-" + op]) for op in ("log-likelihood", "sample")])
PY
    ;;
  ood)
    rm -f "$OUT/ood.jsonl"
    start_server
    for round in $(seq 1 "${ROUNDS:-3}"); do
      echo "## round $round"
      for clients in 1 32; do
        for op in log-likelihood ood ood-orientation; do
          load --op "$op" --concurrency "$clients" --seconds "$SECONDS_PER_RUN"
        done
      done
    done
    python3 - "$OUT" <<'PY'
import sys
sys.path.insert(0, "bench")
from side_by_side import runs, table
r = runs(f"{sys.argv[1]}/ood.jsonl", key=lambda x: (x["op"], x["concurrency"]))
table("/ood against /log-likelihood of the same image (medians of the rounds; cost = log-likelihood img/s / ood img/s)",
      [("clients", "---:"), ("method", "---")], "log-likelihood", "ood", "cost", "paired costs",
      [([str(c), method], r[("log-likelihood", c)], r[(op, c)]) for c in (1, 32)
       for op, method in (("ood", "complexity (default)"), ("ood-orientation", "orientation"))], cost=True, latency="p50")
PY
    ;;
  jars)
    : "${A_JAR:?A_JAR=the first build}" "${B_JAR:?B_JAR=the second build}"
    rm -f "$OUT/jars-a.jsonl" "$OUT/jars-b.jsonl"
    for round in $(seq 1 "${ROUNDS:-3}"); do
      sides="a b"; [ $((round % 2)) = 0 ] && sides="b a"
      for side in $sides; do
        jar=$A_JAR; [ "$side" = b ] && jar=$B_JAR
        echo "## round $round, $side: $jar"
        SERVER_JAR=$jar start_server
        MODE=jars-warmup load --op log-likelihood --concurrency 32 --seconds 5 > /dev/null
        for op in log-likelihood v2-log-likelihood; do
          MODE=jars-$side load --op "$op" --concurrency 32 --seconds "$SECONDS_PER_RUN"
        done
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
      done
    done
    python3 - "$OUT" "$A_JAR" "$B_JAR" <<'PY'
import sys
sys.path.insert(0, "bench")
from side_by_side import runs, table
out, a_jar, b_jar = sys.argv[1:4]
a, b = runs(f"{out}/jars-a.jsonl"), runs(f"{out}/jars-b.jsonl")
table(f"served images/s at 32 clients, A = {a_jar} against B = {b_jar} (medians of the rounds)", [("op", "---")],
      "A", "B", "B / A", "paired ratios", [([op], a[op], b[op]) for op in ("log-likelihood", "v2-log-likelihood")])
PY
    ;;
  models)
    : "${A:?A=the first model folder}" "${B:?B=the second model folder}"
    rm -f "$OUT/models-a.jsonl" "$OUT/models-b.jsonl"
    for round in $(seq 1 "${ROUNDS:-3}"); do
      for side in a b; do
        dir=$A; [ "$side" = b ] && dir=$B
        echo "## round $round, $side: $dir"
        start_server "--glow.models[0].path=$dir"
        for op in log-likelihood sample; do
          java -jar "$JAR" load --url "http://127.0.0.1:$PORT" --json "$OUT/models-$side.jsonl" --op "$op" --concurrency 32 \
            --seconds "$SECONDS_PER_RUN"
        done
        kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
      done
    done
    python3 - "$OUT" "$A" "$B" <<'PY'
import sys
sys.path.insert(0, "bench")
from side_by_side import runs, table
out, a_dir, b_dir = sys.argv[1:4]
a, b = runs(f"{out}/models-a.jsonl"), runs(f"{out}/models-b.jsonl")
table(f"served images/s at 32 clients, A = {a_dir} against B = {b_dir} (medians of the rounds)", [("op", "---")],
      "A", "B", "B / A", "paired ratios", [([op], a[op], b[op]) for op in ("log-likelihood", "sample")])
PY
    ;;
  *) echo "usage: bench/load.sh [sweep|soak|overload|v2|grpc|ood|jars|models]" >&2; exit 2 ;;
esac
