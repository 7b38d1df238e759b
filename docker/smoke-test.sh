#!/usr/bin/env bash
# Runs the image the way helm/glow-serve runs the pod and checks what a deployment relies on: readiness, a sample
# as PNG, encode -> decode gives the identical image, the same over gRPC (docs/examples/grpc_client.py), /actuator/prometheus
# on the management port, the image's HEALTHCHECK turning healthy, and docker stop draining in-flight work and exiting within the chart's grace period.
# Usage: docker/smoke-test.sh [IMAGE]      (default glow-serve:ci; DOCKER=/usr/bin/docker picks the client)
# Needs a JDK 17 (java), curl, and python3 with grpcio, protobuf and protoc on this machine. A failure prints the container's log tail.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-glow-serve:ci}
DOCKER=${DOCKER:-docker}
MODEL=fashion-mnist

# The chart's pod (helm/glow-serve/values.yaml and templates/deployment.yaml); HelmChartTest checks that these
# equal what the chart renders.
RUN_AS_USER=10001
RUN_AS_GROUP=10001
MEMORY_LIMIT=3Gi
GRACE_SECONDS=45
EMPTY_DIRS="/tmp /var/cache/djl"
CONTAINER_PORT=8080
MANAGEMENT_PORT=8082
GRPC_PORT=8081
READINESS_PATH=/actuator/health/readiness
JAVA_OPTS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"

name=glow-smoke-$$
fail() {
  echo "smoke test FAILED: $*" >&2
  echo "---- container log (tail) ----" >&2
  $DOCKER logs --tail 60 "$name" >&2 2>&1 || true
  $DOCKER rm -f "$name" >/dev/null 2>&1 || true
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

mounts=()
for dir in $EMPTY_DIRS; do
  # an emptyDir: writable by the pod's user and fsGroup, nothing else of the filesystem is
  mounts+=(--tmpfs "$dir:rw,exec,uid=$RUN_AS_USER,gid=$RUN_AS_GROUP,mode=0770")
done
start=$(date +%s.%N)
$DOCKER run -d --name "$name" \
  --user "$RUN_AS_USER:$RUN_AS_GROUP" --read-only "${mounts[@]}" \
  --cap-drop ALL --security-opt no-new-privileges \
  --memory "${MEMORY_LIMIT%Gi}g" --memory-swap "${MEMORY_LIMIT%Gi}g" \
  -e JAVA_TOOL_OPTIONS="$JAVA_OPTS" -e DJL_CACHE_DIR=/var/cache/djl \
  -p "127.0.0.1::$CONTAINER_PORT" -p "127.0.0.1::$MANAGEMENT_PORT" -p "127.0.0.1::$GRPC_PORT" "$IMAGE" serve >/dev/null
base="http://$($DOCKER port "$name" "$CONTAINER_PORT/tcp" | head -n 1)"
management="http://$($DOCKER port "$name" "$MANAGEMENT_PORT/tcp" | head -n 1)"

ready=
for _ in $(seq 1 1200); do
  if curl -fs -o /dev/null "$management$READINESS_PATH"; then
    ready=$(date +%s.%N)
    break
  fi
  [ "$($DOCKER inspect -f '{{.State.Running}}' "$name")" = true ] || fail "the container exited before it was ready"
  sleep 0.1
done
[ -n "$ready" ] || fail "not ready after 120 s"
printf 'ready in %.1f s (docker run to %s answering 200)\n' "$(echo "$ready - $start" | bc)" "$READINESS_PATH"

java docker/SmokeClient.java check "$base" "$MODEL" docs/examples/sneaker.png "$management" || fail "HTTP checks"
grpc=$($DOCKER port "$name" "$GRPC_PORT/tcp" | head -n 1)
grpc_out=$(/usr/bin/python3 docs/examples/grpc_client.py --target "$grpc" --model "$MODEL" --n 2) || fail "gRPC client: $grpc_out"
grep -q 'decode(encode(x)) == x: True' <<< "$grpc_out" || fail "gRPC round trip: $grpc_out"
echo "gRPC: $(grep bits/dim <<< "$grpc_out"), decode(encode(x)) == x over port $GRPC_PORT"

health=
for _ in $(seq 1 90); do
  health=$($DOCKER inspect -f '{{.State.Health.Status}}' "$name")
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || fail "HEALTHCHECK says '$health'"
echo "HEALTHCHECK: healthy"

# encodes in flight while docker stop sends SIGTERM: each must still be answered, within the grace period
exec 4< <(java docker/SmokeClient.java inflight "$base" "$MODEL" docs/examples/sneaker.png 24; echo "client exit $?")
read -r -u 4 line
[ "$line" = sent ] || fail "in-flight client: $line"
stop_start=$(date +%s.%N)
$DOCKER stop -t "$GRACE_SECONDS" "$name" >/dev/null
stop_end=$(date +%s.%N)
client=$(cat <&4)
echo "$client" | grep -v '^client exit' || true
echo "$client" | grep -q '^client exit 0$' || fail "requests in flight at docker stop were not all answered"
code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$name")
took=$(echo "$stop_end - $stop_start" | bc)
[ "$code" != 137 ] || fail "killed after the $GRACE_SECONDS s grace period (exit 137)"
$DOCKER logs "$name" 2>&1 | grep -q "model '$MODEL' drained" || fail "no drain in the log"
printf 'docker stop: drained and exited (code %s) in %.1f s of the %s s grace period\n' "$code" "$took" "$GRACE_SECONDS"

$DOCKER rm -f "$name" >/dev/null
trap - ERR
echo "smoke test passed: $IMAGE"
