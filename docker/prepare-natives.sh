#!/bin/sh
# Image build time: takes the Spring Boot jar apart so that the running container writes nothing.
#   /layers/{dependencies,spring-boot-loader,snapshot-dependencies,application}   Spring Boot's layers
#   /opt/djl/pytorch/VERSION-FLAVOR-linux-x86_64   libtorch and DJL's JNI library, readable by every user
# The natives are stored once: the pytorch-native and pytorch-jni jars leave the dependencies layer once their
# libraries are in place, and the libraries' symbol tables (not their dynamic symbols) are stripped.
# Usage: prepare-natives JAR PYTORCH_VERSION FLAVOR   (FLAVOR: cpu, or a CUDA flavour such as cu128)
set -eu
jar=$1
version=$2
flavor=$3
natives=/opt/djl/pytorch/$version-$flavor-linux-x86_64

apt_install() {
  command -v "$1" >/dev/null 2>&1 && return 0
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

java -Djarmode=tools -jar "$jar" extract --layers --destination /layers
cache=$(mktemp -d)
case "$flavor" in
  cpu)
    # DJL unpacks the jar's pytorch-native-cpu into an engine cache
    ENGINE_CACHE_DIR=$cache java -jar "$jar" engine
    mkdir -p "$(dirname "$natives")"
    mv "$cache"/pytorch/"$version"*-cpu-linux-x86_64 "$natives"
    ;;
  cu*)
    # Maven Central has no CUDA natives: fetch them from DJL's repository as DJL itself would
    apt_install curl curl
    apt_install update-ca-certificates ca-certificates
    base=https://publish.djl.ai/pytorch/$version
    mkdir -p "$natives"
    curl -fsSL "$base/files.txt" | grep "^$flavor/linux-x86_64/native/lib/" | while read -r file; do
      curl -fsSL "$base/$file" | gunzip > "$natives/$(basename "$file" .gz)"
    done
    [ -e "$natives/libtorch.so" ] || { echo "prepare-natives: no $flavor natives for PyTorch $version at $base" >&2; exit 1; }
    # DJL copies the JNI library for this flavour out of the pytorch-jni jar next to them
    PYTORCH_LIBRARY_PATH=$natives PYTORCH_VERSION=$version PYTORCH_FLAVOR=$flavor ENGINE_CACHE_DIR=/opt/djl \
      java -jar "$jar" engine
    ;;
  *)
    echo "prepare-natives: unknown PyTorch flavour '$flavor' (cpu or cuNNN)" >&2
    exit 1
    ;;
esac
rm -rf "$cache"
rm -f /layers/dependencies/lib/pytorch-native-*.jar /layers/dependencies/lib/pytorch-jni-*.jar
apt_install strip binutils
strip --strip-unneeded "$natives"/*.so*
chmod -R a+rX /opt/djl
ls -l "$natives"
