# syntax=docker/dockerfile:1
#
# glow-serve container image.
#   docker build -t glow-serve .                                  # CPU (default): offline natives from the jar
#   docker build --build-arg PYTORCH_FLAVOR=cu128 -t glow-serve:cu128 .   # CUDA: DJL fetches the CUDA natives now
# The build runs the same commands as the README and CI: ./mvnw package, then the jar.

ARG PYTORCH_FLAVOR=cpu

FROM eclipse-temurin:17.0.15_6-jdk-jammy AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
RUN ./mvnw -B -q dependency:go-offline
COPY src/ src/
COPY openapi.yaml ./
RUN ./mvnw -B -q -DskipTests package

FROM eclipse-temurin:17.0.15_6-jre-jammy AS runtime
ARG PYTORCH_FLAVOR
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 glow \
 && useradd --system --uid 10001 --gid glow --home-dir /app --shell /usr/sbin/nologin glow
WORKDIR /app
COPY --from=build /src/target/glow-serve.jar /app/glow-serve.jar

# Native libraries live in the image (read-only at run time): unpacked from the jar for cpu,
# downloaded by DJL for a CUDA flavour (this step needs network only then).
ENV ENGINE_CACHE_DIR=/opt/djl/engine \
    DJL_CACHE_DIR=/var/cache/djl \
    PYTORCH_FLAVOR=${PYTORCH_FLAVOR}
RUN mkdir -p /opt/djl/engine /var/cache/djl \
 && if [ "$PYTORCH_FLAVOR" = "cpu" ]; then \
      java -jar /app/glow-serve.jar engine; \
    else \
      java -Dai.djl.offline=false -jar /app/glow-serve.jar engine; \
    fi \
 && chown -R glow:glow /var/cache/djl

USER 10001:10001
EXPOSE 8080
# JVM heap within the container's memory limit; the rest is for libtorch's native tensors
ENV JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/actuator/health/readiness || exit 1
ENTRYPOINT ["java", "-jar", "/app/glow-serve.jar"]
CMD ["serve"]
