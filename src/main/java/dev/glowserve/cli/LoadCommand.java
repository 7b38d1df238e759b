package dev.glowserve.cli;

import dev.glowserve.artifact.ModelArtifact;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Closed-loop load against a running service on this machine: N clients each sending one
 * single-image request after another for a fixed time. Reports req/s, latency percentiles, status
 * counts, images/s and, with --health, how fast /actuator/health answered meanwhile. Targets must be
 * loopback or this machine's own addresses.
 */
@Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Load-test a running glow-serve on this machine with single-image requests.")
public final class LoadCommand implements java.util.concurrent.Callable<Integer> {

    @Option(names = "--url", description = "Service base URL (loopback). Default: ${DEFAULT-VALUE}")
    URI url = URI.create("http://127.0.0.1:8080");

    @Option(names = "--model", description = "Model name. Default: the first available")
    String model;

    @Option(names = "--op", description = "sample, log-likelihood, ood or ood-orientation (the orientation method) over /v1; v2-sample or v2-log-likelihood over the Open "
            + "Inference Protocol, the images as binary tensors; grpc-sample or grpc-log-likelihood over its gRPC service, as raw "
            + "tensors. Default: ${DEFAULT-VALUE}")
    String op = "sample";

    @Option(names = "--concurrency", split = ",", description = "Client counts, one run each. Default: ${DEFAULT-VALUE}")
    int[] concurrency = {1, 8, 32, 64};

    @Option(names = "--seconds", description = "Seconds per run. Default: ${DEFAULT-VALUE}")
    double seconds = 30;

    @Option(names = "--health", description = "Probe /actuator/health every 200 ms during each run")
    boolean health;

    @Option(names = "--management-url", description = "Base URL of the actuator when it has its own port. Default: --url")
    URI managementUrl;

    @Option(names = "--rss-pid", description = "Sample this process's resident memory every --rss-every seconds")
    Long rssPid;

    @Option(names = "--rss-every", description = "Default: ${DEFAULT-VALUE}")
    double rssEvery = 30;

    @Option(names = "--honor-retry-after", description = "After a 429, wait the Retry-After seconds before the next request "
            + "(as a well-behaved client does); by default clients retry at once")
    boolean honorRetryAfter;

    @Option(names = "--grpc-port", description = "The service's gRPC port, on --url's host. Default: ${DEFAULT-VALUE}")
    int grpcPort = 8081;

    @Option(names = "--api-key", description = "X-API-Key to send")
    String apiKey;

    @Option(names = "--json", paramLabel = "FILE", description = "Append each run's result as a JSON line")
    Path json;

    /** One run's figures. */
    public record Result(String op, int concurrency, double seconds, long requests, double requestsPerSecond,
            double p50Ms, double p95Ms, double p99Ms, double maxMs, Map<Integer, Long> statuses, long transportErrors,
            double imagesPerSecond, Double healthMaxMs, List<Long> rssKb) {}

    @Override
    public Integer call() throws Exception {
        CliLogging.toStderr();
        String host = url.getHost();
        if (!(host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1"))) {
            throw new IllegalArgumentException("load only targets this machine (loopback), not " + host);
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).executor(Executors.newFixedThreadPool(4)).build();
        if (model == null) {
            JsonNode models = ModelArtifact.JSON.readTree(send(http, get("/v1/models")).body());
            for (JsonNode m : models.get("models")) {
                if ("available".equals(m.get("status").asString())) {
                    model = m.get("name").asString();
                    break;
                }
            }
        }
        Requests requests = requests(http);
        System.out.println("| op | clients | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | statuses | images/s |"
                + (health ? " health max ms |" : ""));
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|" + (health ? "---:|" : ""));
        for (int c : concurrency) {
            Result r = run(http, c, requests);
            System.out.printf(Locale.ROOT, "| %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %.1f |%s%n", r.op(), r.concurrency(),
                    r.requests(), r.requestsPerSecond(), r.p50Ms(), r.p95Ms(), r.p99Ms(), r.maxMs(), statusText(r),
                    r.imagesPerSecond(), health ? String.format(Locale.ROOT, " %.1f |", r.healthMaxMs()) : "");
            if (json != null) {
                Files.writeString(json, ModelArtifact.JSON.writer().without(tools.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                        .writeValueAsString(r) + "\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            }
        }
        if (grpc != null) {
            grpc.close();
        }
        return 0;
    }

    private static String statusText(Result r) {
        StringBuilder b = new StringBuilder();
        r.statuses().forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(": ").append(v));
        if (r.transportErrors() > 0) {
            b.append(b.isEmpty() ? "" : ", ").append("transport errors: ").append(r.transportErrors());
        }
        return b.toString();
    }

    private HttpRequest get(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(url.resolve(path)).timeout(Duration.ofSeconds(60)).GET();
        if (apiKey != null) {
            b.header("X-API-Key", apiKey);
        }
        return b.build();
    }

    private HttpRequest post(String path, String body) {
        return post(path, body.getBytes(java.nio.charset.StandardCharsets.UTF_8), "application/json", null);
    }

    private HttpRequest post(String path, byte[] body, String contentType, Integer headerLength) {
        HttpRequest.Builder b = HttpRequest.newBuilder(url.resolve(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (headerLength != null) {
            b.header("Inference-Header-Content-Length", headerLength.toString());
        }
        if (apiKey != null) {
            b.header("X-API-Key", apiKey);
        }
        return b.build();
    }

    /** A request's outcome: its status (HTTP's; a gRPC code as HTTP would say it), the error's text, its Retry-After. */
    record Outcome(int status, String error, long retryAfterSeconds) {}

    /** The op's requests: sends the n-th one (a sample takes a fresh seed each time). */
    @FunctionalInterface
    interface Requests {
        Outcome send(long n) throws IOException, InterruptedException;

        /** An HTTP op's n-th request. */
        @FunctionalInterface
        interface Http {
            HttpRequest request(long n);
        }
    }

    private Requests requests(HttpClient http) throws Exception {
        if (op.startsWith("grpc-")) {
            dev.glowserve.data.Png.Image image = dev.glowserve.data.Png.decode(testImage(http), 1 << 24);
            return grpc = GrpcLoad.requests(op, url.getHost(), grpcPort, model, apiKey, image);
        }
        Requests.Http next = httpRequests(http);
        return n -> {
            HttpResponse<byte[]> r = http.send(next.request(n), HttpResponse.BodyHandlers.ofByteArray());
            return new Outcome(r.statusCode(), r.statusCode() == 200 ? null : new String(r.body()),
                    r.headers().firstValueAsLong("Retry-After").orElse(1));
        };
    }

    /** The gRPC channel of a grpc- op, closed when the runs are done. */
    private GrpcLoad grpc;

    private Requests.Http httpRequests(HttpClient http) throws Exception {
        String v2Score = "/v2/models/" + model + "/infer";
        String v2Sample = "/v2/models/" + model + "-sample/infer";
        return switch (op) {
            case "sample" -> n -> post("/v1/models/" + model + "/sample", "{\"n\":1,\"seed\":" + n + "}");
            case "log-likelihood", "ood", "ood-orientation" -> {
                String image = "\"images\":[\"" + java.util.Base64.getEncoder().encodeToString(testImage(http)) + "\"]";
                String body = op.equals("ood-orientation") ? "{" + image + ",\"method\":\"orientation\"}" : "{" + image + "}";
                yield n -> post("/v1/models/" + model + "/" + (op.startsWith("ood") ? "ood" : op), body);
            }
            case "v2-sample" -> n -> post(v2Sample, "{\"inputs\":[{\"name\":\"TEMPERATURE\",\"datatype\":\"FP32\",\"shape\":[1],"
                    + "\"data\":[0.7]},{\"name\":\"SEED\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[" + n + "]}],"
                    + "\"outputs\":[{\"name\":\"IMAGES\",\"parameters\":{\"binary_data\":true}}]}");
            case "v2-log-likelihood" -> {
                dev.glowserve.data.Png.Image image = dev.glowserve.data.Png.decode(testImage(http), 1 << 24);
                byte[] header = ("{\"inputs\":[{\"name\":\"IMAGES\",\"datatype\":\"UINT8\",\"shape\":[1," + image.channels() + ","
                        + image.height() + "," + image.width() + "],\"parameters\":{\"binary_data_size\":" + image.pixels().length
                        + "}}],\"outputs\":[{\"name\":\"BITS_PER_DIM\",\"parameters\":{\"binary_data\":true}}]}")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
                byte[] body = Arrays.copyOf(header, header.length + image.pixels().length);
                System.arraycopy(image.pixels(), 0, body, header.length, image.pixels().length);
                yield n -> post(v2Score, body, "application/octet-stream", header.length);
            }
            default -> throw new IllegalArgumentException("--op is sample, log-likelihood, ood, ood-orientation, v2-sample, "
                    + "v2-log-likelihood, grpc-sample or grpc-log-likelihood, not " + op);
        };
    }

    private static HttpResponse<String> send(HttpClient http, HttpRequest r) throws IOException, InterruptedException {
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    /** A real image of the model's shape to score, as PNG: a sample the service itself draws. */
    private byte[] testImage(HttpClient http) throws Exception {
        HttpResponse<String> s = send(http, post("/v1/models/" + model + "/sample", "{\"n\":1,\"seed\":7}"));
        if (s.statusCode() != 200) {
            throw new IllegalStateException("cannot draw a test image: " + s.statusCode() + " " + s.body());
        }
        return java.util.Base64.getDecoder().decode(ModelArtifact.JSON.readTree(s.body()).get("images").get(0).get("png").asString());
    }

    private Result run(HttpClient http, int clients, Requests requests) throws Exception {
        Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
        Map<Integer, String> firstErrors = new ConcurrentHashMap<>();
        LongAdder transport = new LongAdder();
        List<long[]> latencies = new ArrayList<>();
        AtomicLong seed = new AtomicLong(new Random().nextLong());
        long end = System.nanoTime() + (long) (seconds * 1e9);
        ExecutorService pool = Executors.newFixedThreadPool(clients + 2);
        List<java.util.concurrent.Future<long[]>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                long[] buf = new long[1 << 16];
                int n = 0;
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    try {
                        Outcome r = requests.send(seed.incrementAndGet() & 0xFFFFFFFL);
                        statuses.computeIfAbsent(r.status(), k -> new LongAdder()).increment();
                        if (r.status() != 200 && firstErrors.putIfAbsent(r.status(), r.error()) == null) {
                            System.err.println("first " + r.status() + ": " + r.error());
                        }
                        if (r.status() == 200 && n < buf.length) {
                            buf[n++] = System.nanoTime() - t0;
                        }
                        if (r.status() == 429 && honorRetryAfter) {
                            long wait = r.retryAfterSeconds() * 1_000_000_000L;
                            Thread.sleep(Math.max(0, Math.min(wait, end - System.nanoTime())) / 1_000_000);
                        }
                    } catch (IOException e) {
                        transport.increment();
                    }
                }
                return Arrays.copyOf(buf, n);
            }));
        }
        double[] healthMax = {0};
        List<Long> rss = new ArrayList<>();
        java.util.concurrent.Future<?> prober = pool.submit(() -> {
            long nextRss = System.nanoTime();
            while (System.nanoTime() < end) {
                if (health) {
                    long t0 = System.nanoTime();
                    try {
                        URI base = managementUrl != null ? managementUrl : url;
                        send(http, HttpRequest.newBuilder(base.resolve("/actuator/health")).timeout(Duration.ofSeconds(60)).GET().build());
                    } catch (Exception e) {
                        healthMax[0] = Double.POSITIVE_INFINITY;
                    }
                    healthMax[0] = Math.max(healthMax[0], (System.nanoTime() - t0) / 1e6);
                }
                if (rssPid != null && System.nanoTime() >= nextRss) {
                    rss.add(rssKb(rssPid));
                    nextRss += (long) (rssEvery * 1e9);
                }
                Thread.sleep(200);
            }
            return null;
        });
        long started = System.nanoTime();
        for (var f : futures) {
            latencies.add(f.get());
        }
        prober.get();
        double took = (System.nanoTime() - started) / 1e9;
        pool.shutdown();
        pool.awaitTermination(10, TimeUnit.SECONDS);
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        long total = statuses.values().stream().mapToLong(LongAdder::sum).sum() + transport.sum();
        long ok = statuses.getOrDefault(200, new LongAdder()).sum();
        Map<Integer, Long> byStatus = new TreeMap<>();
        statuses.forEach((k, v) -> byStatus.put(k, v.sum()));
        return new Result(op, clients, took, total, total / took, pct(all, 50), pct(all, 95), pct(all, 99),
                all.length == 0 ? Double.NaN : all[all.length - 1] / 1e6, byStatus, transport.sum(), ok / took,
                health ? healthMax[0] : null, rss);
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(p / 100.0 * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e6;
    }

    static long rssKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }

}
