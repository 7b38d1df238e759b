# glow-serve container image. No "syntax" line on purpose: it would make BuildKit pull a frontend image.
#
#   docker build -t glow-serve .
#       builds the jar from source (./mvnw package in BUILD_IMAGE), then the runtime image on RUNTIME_IMAGE
#   ./mvnw -B -q -DskipTests package && docker build --target prebuilt -t glow-serve:ci .
#       packs the jar ./mvnw left in target/ (no Maven in the image build); this is what CI builds
#   --build-arg RUNTIME_IMAGE=...  any Debian or Ubuntu image with Java 17 (java on the PATH)
#   --build-arg BUILD_IMAGE=...    any image with a JDK 17, for the source build
#   --build-arg PYTORCH_FLAVOR=cu128   CUDA natives, downloaded from DJL's repository at build time (needs network)
#
# Both paths give the same layout: Spring Boot's layers under /app (a code change rebuilds only the application
# layer) and PyTorch's natives prepared once, readable by any user, in /opt/djl. At run time the container
# writes only to /tmp and /var/cache/djl, which the Helm chart mounts as emptyDirs: the root can be read-only.

ARG BUILD_IMAGE=eclipse-temurin:17.0.15_6-jdk-jammy
ARG RUNTIME_IMAGE=eclipse-temurin:17.0.15_6-jre-jammy
ARG PYTORCH_FLAVOR=cpu
# the libtorch version of pom.xml's pytorch-native jar
ARG PYTORCH_VERSION=2.7.1

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
RUN ./mvnw -B -q dependency:go-offline
COPY src/ src/
COPY openapi.yaml ./
RUN ./mvnw -B -q -DskipTests package

# The jar taken apart (docker/prepare-natives.sh): Spring Boot's layers in /layers, PyTorch's natives in
# /opt/djl, the native jar dropped from the layers (the natives would otherwise be stored twice).
FROM ${RUNTIME_IMAGE} AS unpack-source
ARG PYTORCH_FLAVOR
ARG PYTORCH_VERSION
COPY docker/prepare-natives.sh /usr/local/bin/prepare-natives
COPY --from=build /src/target/glow-serve.jar /unpack/glow-serve.jar
RUN prepare-natives /unpack/glow-serve.jar "$PYTORCH_VERSION" "$PYTORCH_FLAVOR"

FROM ${RUNTIME_IMAGE} AS unpack-prebuilt
ARG PYTORCH_FLAVOR
ARG PYTORCH_VERSION
COPY docker/prepare-natives.sh /usr/local/bin/prepare-natives
COPY target/glow-serve.jar /unpack/glow-serve.jar
RUN prepare-natives /unpack/glow-serve.jar "$PYTORCH_VERSION" "$PYTORCH_FLAVOR"

# What both images share: the user (the chart's runAsUser / runAsGroup), the writable mount points, the
# natives' location, the health check and the command.
FROM ${RUNTIME_IMAGE} AS runtime-base
ARG PYTORCH_FLAVOR
ARG PYTORCH_VERSION
RUN groupadd --system --gid 10001 glow \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin glow \
 && mkdir -p /app /opt/djl/glow-serve /var/cache/djl \
 && chown 10001:10001 /var/cache/djl /opt/djl/glow-serve && chmod 1777 /tmp
COPY docker/healthcheck.sh /usr/local/bin/healthcheck
WORKDIR /app
# DJL loads the prepared libtorch and its JNI library from /opt/djl and never extracts or downloads at run time
ENV ENGINE_CACHE_DIR=/opt/djl \
    PYTORCH_LIBRARY_PATH=/opt/djl/pytorch/${PYTORCH_VERSION}-${PYTORCH_FLAVOR}-linux-x86_64 \
    PYTORCH_VERSION=${PYTORCH_VERSION} \
    PYTORCH_FLAVOR=${PYTORCH_FLAVOR} \
    DJL_CACHE_DIR=/var/cache/djl \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
USER 10001:10001
# the API, and the probes and metrics (management.server.port)
EXPOSE 8080 8081 8082
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 CMD ["healthcheck", "/actuator/health/readiness"]
ENTRYPOINT ["java", "-jar", "/app/glow-serve.jar"]
CMD ["serve"]

# --target prebuilt: the jar from target/
FROM runtime-base AS prebuilt
COPY --from=unpack-prebuilt /opt/djl/ /opt/djl/
COPY --from=unpack-prebuilt /layers/dependencies/ /app/
COPY --from=unpack-prebuilt /layers/spring-boot-loader/ /app/
COPY --from=unpack-prebuilt /layers/snapshot-dependencies/ /app/
COPY --from=unpack-prebuilt /layers/application/ /app/
# as the user the chart runs: DJL finds everything in place, nothing is written but the kernel check's verdict and
# the shipped model's tuned routes for the build machine's CPU, kept beside the natives (a node of the same kind and
# core count skips both; others measure them at start)
RUN java -Dglow.kernel-check.dir=/opt/djl/glow-serve -jar /app/glow-serve.jar engine \
 && java -Dglow.kernel-check.dir=/opt/djl/glow-serve -jar /app/glow-serve.jar sample --n 1 --out /tmp/tuned.png \
 && rm /tmp/tuned.png

# the default target: the jar built from source
FROM runtime-base AS runtime
COPY --from=unpack-source /opt/djl/ /opt/djl/
COPY --from=unpack-source /layers/dependencies/ /app/
COPY --from=unpack-source /layers/spring-boot-loader/ /app/
COPY --from=unpack-source /layers/snapshot-dependencies/ /app/
COPY --from=unpack-source /layers/application/ /app/
RUN java -Dglow.kernel-check.dir=/opt/djl/glow-serve -jar /app/glow-serve.jar engine \
 && java -Dglow.kernel-check.dir=/opt/djl/glow-serve -jar /app/glow-serve.jar sample --n 1 --out /tmp/tuned.png \
 && rm /tmp/tuned.png
