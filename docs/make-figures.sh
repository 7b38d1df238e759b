#!/usr/bin/env bash
# Regenerates the interpolation, temperature and manipulation figures of docs/MODEL.md through the HTTP API.
# Start the service first (README: ./mvnw -B -q -DskipTests package && java -jar target/glow-serve.jar).
# Needs curl and jq. The sample grid, learning curve and reconstructions come from `glow-serve train`;
# the temperature rows from `glow-serve sample`.
set -euo pipefail
cd "$(dirname "$0")"
M=${BASE:-http://localhost:8080}/v1/models/fashion-mnist
mkdir -p images
img() { base64 -w0 "examples/$1.png"; }
post() { curl -fsS -X POST "$M/$1" -H 'Content-Type: application/json' "${@:2}"; }

# interpolation strips between test images (both ends are the images themselves: decode(encode(x)) = x)
for pair in "sneaker boot" "tshirt dress" "trouser dress" "pullover coat" "bag sandal"; do
  set -- $pair
  post interpolate -H 'Accept: image/png' -o "images/interpolate-$1-$2.png" \
    -d "{\"from\":{\"image\":\"$(img "$1")\"},\"to\":{\"image\":\"$(img "$2")\"},\"steps\":10,\"method\":\"slerp\"}"
done

# the same seed (so the same classes and noise direction) at rising temperature, one row each
for t in 0 0.5 0.7 1.0; do
  java -jar ../target/glow-serve.jar sample --n 10 --columns 10 --seed 11 --temperature "$t" --out "images/temperature-$t.png"
done

# manipulation: a T-shirt moved towards "Dress" and a sneaker towards "Ankle boot", one strip per image
post manipulate -H 'Accept: image/png' -o images/manipulate-tshirt-dress.png \
  -d "{\"image\":\"$(img tshirt)\",\"to_class\":3,\"scales\":[0,0.25,0.5,0.75,1,1.25,1.5]}"
post manipulate -H 'Accept: image/png' -o images/manipulate-sneaker-boot.png \
  -d "{\"image\":\"$(img sneaker)\",\"to_class\":9,\"scales\":[0,0.25,0.5,0.75,1,1.25,1.5]}"
echo "figures written to docs/images/"
