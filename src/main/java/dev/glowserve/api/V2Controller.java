package dev.glowserve.api;

import dev.glowserve.api.V2Tensors.Output;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.serving.LatentService.Target;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.glowserve.serving.GlowProperties;
import dev.glowserve.serving.InferenceStatistics;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ModelRegistry;
import dev.glowserve.serving.RequestWork;
import dev.glowserve.serving.ServedModel;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.info.BuildProperties;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The Open Inference Protocol (KServe V2, Triton's HTTP protocol) with the binary tensor data extension: health,
 * server and model metadata, readiness, and inference on the protocol models {@link V2Models} defines. Every
 * inference goes through {@link LatentService}, as {@code /v1}'s does: the same batching, limits, deadlines, API key,
 * metrics and numbers. Errors are {@code {"error": "..."}}.
 */
@RestController
public class V2Controller implements V2Api {

    static final List<String> EXTENSIONS = List.of("binary_tensor_data", "model_repository", "statistics", "schedule_policy");
    private static final String PLATFORM = "glow-serve_djl_pytorch";

    private final LatentService latents;
    private final ModelRegistry registry;
    private final ObjectMapper json;
    private final String version;

    public V2Controller(LatentService latents, ModelRegistry registry, ObjectMapper json, ObjectProvider<BuildProperties> build) {
        this.latents = latents;
        this.registry = registry;
        this.json = json;
        BuildProperties b = build.getIfAvailable();
        this.version = b != null ? b.getVersion() : "development";
    }

    @GetMapping(value = "/v2", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public ServerMetadata server() {
        return new ServerMetadata("glow-serve", version, EXTENSIONS);
    }

    @GetMapping(value = "/v2/health/live", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public Live live() {
        return new Live(true);
    }

    @GetMapping(value = "/v2/health/ready", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public ResponseEntity<Ready> ready() {
        boolean ready = registry.isRunning() && registry.views().stream().allMatch(ServedModel.View::accepting);
        return ResponseEntity.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).body(new Ready(ready));
    }

    @GetMapping(value = {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}, produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public ModelMetadata metadata(@PathVariable String model, @PathVariable(required = false) String version) {
        V2Models.Name name = name(model);
        ServedModel.View v = view(name, version);
        if (!v.available()) {
            throw new ModelRegistry.ModelUnavailable(v.name(), v.error());
        }
        GlowConfig c = v.config();
        return new ModelMetadata(model, List.of(v.version()), PLATFORM, specs(V2Models.inputs(name.kind(), c)),
                specs(V2Models.outputs(name.kind(), c, latents.oodPolicy(name.served()) != GlowProperties.OodPolicy.OFF)));
    }

    @GetMapping(value = {"/v2/models/{model}/ready", "/v2/models/{model}/versions/{version}/ready"},
            produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public ResponseEntity<ModelReady> modelReady(@PathVariable String model, @PathVariable(required = false) String version) {
        boolean ready = view(name(model), version).accepting();
        return ResponseEntity.status(ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).body(new ModelReady(model, ready));
    }

    @GetMapping(value = {"/v2/models/stats", "/v2/models/{model}/stats", "/v2/models/{model}/versions/{version}/stats"},
            produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public Statistics statistics(@PathVariable(required = false) String model, @PathVariable(required = false) String version) {
        List<ModelStats> stats = new ArrayList<>();
        if (model == null) {
            registry.models().forEach(m -> {
                if (m.statistics() != null) {
                    stats.add(stats(m.name(), m.version(), m.statistics().snapshot()));
                }
            });
            return new Statistics(stats);
        }
        V2Models.Name name = name(model);
        ServedModel.View v = view(name, version);
        ServedModel served = registry.model(name.served());
        InferenceStatistics s = served.statistics();
        if (s == null || !served.version().equals(v.version())) {
            throw new ModelRegistry.ModelUnavailable(v.name(), v.error());
        }
        stats.add(stats(model, served.version(), s.snapshot()));
        return new Statistics(stats);
    }

    private static ModelStats stats(String name, String version, InferenceStatistics.Snapshot s) {
        StatDuration none = new StatDuration(0, 0);
        List<BatchStats> batches = s.batches().stream().map(b -> new BatchStats(b.batchSize(), none, duration(b.computeInfer()), none))
                .toList();
        return new ModelStats(name, version, s.lastInferenceMillis(), s.inferenceCount(), s.executionCount(),
                new InferStats(duration(s.success()), duration(s.fail()), duration(s.queue()), none, duration(s.computeInfer()), none),
                batches);
    }

    private static StatDuration duration(InferenceStatistics.Duration d) {
        return new StatDuration(d.count(), d.ns());
    }

    @PostMapping(value = {"/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer"})
    @Override
    public CompletableFuture<ResponseEntity<byte[]>> infer(@PathVariable String model, @PathVariable(required = false) String version,
            @RequestHeader(value = V2Tensors.HEADER_LENGTH, required = false) String headerLength,
            @RequestBody(required = false) byte[] body) {
        RequestWork work = WebConfig.work();
        return infer(model, version, () -> {
            if (body == null || body.length == 0) {
                throw ClientError.malformed("the request has no body: send an inference request");
            }
            return V2Tensors.parse(json, body, length(headerLength));
        }, work, (t, request, chosen, binary) -> http(model, t, request, chosen, binary));
    }

    /** What an inference answers with, from the outputs the client chose, each binary or not as it asked. */
    interface Renderer<R> {
        R render(Target t, V2Tensors.Request request, List<Output> outputs, List<Boolean> binary);
    }

    /**
     * One inference, whatever its transport (REST, gRPC): the model resolved and leased, the version checked, the
     * request parsed (by {@code parse}, after back-pressure has admitted it), its priority and timeout parameters
     * applied to {@code work}, queued, and rendered off the model's threads.
     */
    <R> CompletableFuture<R> infer(String model, String version, Supplier<V2Tensors.Request> parse, RequestWork work,
            Renderer<R> renderer) {
        V2Models.Name name = name(model);
        return latents.serve(name.served(), t -> {
            if (version != null && !version.equals(t.version())) {
                throw notServed(model, version, t.version());
            }
            V2Tensors.Request request = parse.get();
            schedule(request, work);
            CompletableFuture<Map<String, Output>> outputs = V2Models.infer(latents, t, name.kind(), request, work);
            return latents.respond("v2-" + name.kind().name().toLowerCase(java.util.Locale.ROOT), t, outputs,
                    all -> choose(t, request, all, renderer));
        });
    }

    /** Triton's schedule-policy parameters: priority (1 the highest; 0 the default) and timeout in microseconds. */
    private static void schedule(V2Tensors.Request request, RequestWork work) {
        JsonNode priority = request.parameters().get("priority");
        if (priority != null) {
            work.priority((int) bounded(priority, "parameters.priority", 16));
        }
        JsonNode timeout = request.parameters().get("timeout");
        if (timeout != null) {
            work.timeout(TimeUnit.MICROSECONDS.toNanos(bounded(timeout, "parameters.timeout (microseconds)", MAX_TIMEOUT_MICROS)));
        }
    }

    /** A day: a longer timeout is a mistake, and the service's own request timeout is shorter anyway. */
    static final long MAX_TIMEOUT_MICROS = 86_400_000_000L;

    private static long bounded(JsonNode n, String what, long max) {
        long v = V2Tensors.nonNegative(n, what);
        if (v > max) {
            throw ClientError.malformed(what + " must be at most " + max + ", is " + v);
        }
        return v;
    }

    private static <R> R choose(Target t, V2Tensors.Request request, Map<String, Output> all, Renderer<R> renderer) {
        List<Output> chosen = new ArrayList<>();
        List<Boolean> binary = new ArrayList<>();
        if (request.outputs().isEmpty()) {
            chosen.addAll(all.values());
            all.values().forEach(o -> binary.add(request.binaryOutputs()));
        } else {
            for (V2Tensors.Requested r : request.outputs()) {
                Output o = all.get(r.name());
                if (o == null) {
                    throw ClientError.malformed("unknown output '" + r.name() + "'; this model gives " + all.keySet());
                }
                chosen.add(o);
                binary.add(r.binary() != null ? r.binary() : request.binaryOutputs());
            }
        }
        return renderer.render(t, request, chosen, binary);
    }

    private ResponseEntity<byte[]> http(String model, Target t, V2Tensors.Request request, List<Output> chosen, List<Boolean> binary) {
        V2Tensors.Encoded e = V2Tensors.encode(json, model, t.version(), request.id(), chosen, binary);
        ResponseEntity.BodyBuilder ok = ResponseEntity.ok();
        if (e.binary()) {
            return ok.contentType(MediaType.APPLICATION_OCTET_STREAM).header(V2Tensors.HEADER_LENGTH, Integer.toString(e.headerLength()))
                    .body(e.body());
        }
        return ok.contentType(MediaType.APPLICATION_JSON).body(e.body());
    }

    private static Long length(String header) {
        if (header == null) {
            return null;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            throw ClientError.malformed(V2Tensors.HEADER_LENGTH + " is '" + header + "', not a number of bytes");
        }
    }

    private V2Models.Name name(String model) {
        Set<String> served = new LinkedHashSet<>();
        registry.views().forEach(v -> served.add(v.name()));
        return V2Models.resolve(model, served);
    }

    private ServedModel.View view(V2Models.Name name, String version) {
        ServedModel.View v = registry.view(name.served());
        if (version != null && !version.equals(v.version())) {
            throw notServed(name.protocolName(), version, v.version());
        }
        return v;
    }

    private static ModelRegistry.UnknownModel notServed(String model, String version, String served) {
        return new ModelRegistry.UnknownModel("model '" + model + "' has no version '" + version + "' loaded (version "
                + served + " is)");
    }

    private static List<TensorMetadata> specs(List<V2Models.Spec> specs) {
        return specs.stream().map(s -> new TensorMetadata(s.name(), s.datatype().name(), s.shape())).toList();
    }

    /** Server metadata, as the protocol names its fields. */
    public record ServerMetadata(String name, String version, List<String> extensions) {}

    public record Live(boolean live) {}

    public record Ready(boolean ready) {}

    public record ModelReady(String name, boolean ready) {}

    /** A model's metadata; a shape's -1 is a dimension that varies (the batch). */
    public record ModelMetadata(String name, List<String> versions, String platform, List<TensorMetadata> inputs,
            List<TensorMetadata> outputs) {}

    public record TensorMetadata(String name, String datatype, long[] shape) {}

    /** Triton's statistics extension: every model asked for, or the one named. */
    public record Statistics(@JsonProperty("model_stats") List<ModelStats> modelStats) {}

    /**
     * A model version's cumulative figures since it loaded: requests answered ({@code success}, {@code fail}: count and
     * total time from validation to response), queue waits, and the batched passes ({@code compute_infer}; this
     * server's passes take tensors in and out, so {@code compute_input} and {@code compute_output} stay 0).
     */
    public record ModelStats(String name, String version, @JsonProperty("last_inference") long lastInference,
            @JsonProperty("inference_count") long inferenceCount, @JsonProperty("execution_count") long executionCount,
            @JsonProperty("inference_stats") InferStats inferenceStats, @JsonProperty("batch_stats") List<BatchStats> batchStats) {}

    public record InferStats(StatDuration success, StatDuration fail, StatDuration queue,
            @JsonProperty("compute_input") StatDuration computeInput, @JsonProperty("compute_infer") StatDuration computeInfer,
            @JsonProperty("compute_output") StatDuration computeOutput) {}

    public record BatchStats(@JsonProperty("batch_size") int batchSize, @JsonProperty("compute_input") StatDuration computeInput,
            @JsonProperty("compute_infer") StatDuration computeInfer, @JsonProperty("compute_output") StatDuration computeOutput) {}

    /** A count of events and their total duration in nanoseconds. */
    public record StatDuration(long count, long ns) {}
}
