package dev.glowserve.serving;

import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.runtime.Workers;
import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

import java.time.Duration;
import java.util.List;

/**
 * Settings under {@code glow.*}, validated at start-up: a bad value stops the service with a
 * message naming the property.
 */
@Validated
@ConfigurationProperties("glow")
public record GlowProperties(
        @NotBlank String device,
        @NotNull @Valid List<ModelSpec> models,
        String modelRepository,
        ModelControl modelControl,
        List<String> loadModels,
        @NotNull @Valid Limits limits,
        @NotNull @Valid Batching batching,
        @NotNull @Valid Inference inference,
        @NotNull @Valid DriftSettings drift) {

    /**
     * The drift window of every screened model version ({@code glow.drift.*}): its last {@code window-size} inputs,
     * none older than {@code max-age}; an input is flagged below {@code alpha}; the tests run from {@code min-inputs}.
     */
    public record DriftSettings(@Min(2) @Max(100_000) int windowSize, @NotNull Duration maxAge,
            @DecimalMin(value = "0.0", inclusive = false) @DecimalMax(value = "1.0", inclusive = false) double alpha,
            @Min(2) int minInputs) {}

    /**
     * What a model does with an input that does not look like its calibration ({@code glow.models[i].ood-policy}):
     * {@code off} nothing, {@code flag} answers each input's p-value and verdict, {@code reject} refuses a request with
     * an input below {@code glow.drift.alpha}. A request may ask for more, never for less.
     */
    public enum OodPolicy { OFF, FLAG, REJECT }

    /**
     * How models run, chosen once at model load: each pass as one TorchScript call ({@code script}, else the eager
     * layers), oneDNN's prepacked kernels on CPU in float32 ({@code prepack}), where the routes come from
     * ({@code tuning}: {@code auto} measures them on the host at load and caches them, {@code off} keeps the untuned
     * table, else a tuning file), and whether glibc keeps freed tensor memory instead of unmapping it
     * ({@code malloc-tuning}).
     */
    public record Inference(boolean script, boolean prepack, boolean mallocTuning, String tuning) {

        public Inference {
            if (tuning == null || tuning.isBlank()) {
                tuning = InferenceSettings.AUTO;
            }
        }

        public InferenceSettings settings() {
            return new InferenceSettings(script, prepack, tuning);
        }
    }

    /**
     * Whether models can be loaded and unloaded while the service runs ({@code glow.model-control}): {@code none}
     * serves what start-up loaded (the configured models and, with a repository, every model's highest version);
     * {@code explicit} loads the configured models and those {@code glow.load-models} names at start-up, and the
     * repository's others on request.
     */
    public enum ModelControl { NONE, EXPLICIT }

    public GlowProperties {
        if (modelControl == null) {
            modelControl = ModelControl.NONE;
        }
        loadModels = loadModels == null ? List.of() : List.copyOf(loadModels);
    }

    /**
     * Whether the repository's model {@code name} is loaded at start-up: always with {@code glow.model-control=none};
     * with {@code explicit}, when {@code glow.load-models} names it or is {@code *} (Triton's {@code --load-model}).
     */
    public boolean loadsAtStartUp(String name) {
        return modelControl == ModelControl.NONE || loadModels.contains("*") || loadModels.contains(name);
    }

    /** A model to serve: its artifact ("classpath:dir" or a folder) and an optional name overriding the manifest's. */
    public record ModelSpec(@NotBlank String path, String name, OodPolicy oodPolicy) {
        public ModelSpec {
            if (oodPolicy == null) {
                oodPolicy = OodPolicy.OFF;
            }
        }
    }

    /**
     * Request limits (HTTP 413 / 422 beyond them), how long a request body may take to arrive (408 after), and the
     * most memory a model may take: its weights file and its estimated memory in use are checked against it before
     * the model is built.
     */
    public record Limits(
            @Min(1) @Max(1024) int maxImages,
            @Min(1) @Max(1024) int maxSamples,
            @DecimalMin("0.0") @DecimalMax("10.0") double maxTemperature,
            @Min(2) @Max(1024) int maxInterpolationSteps,
            @NotNull DataSize maxRequestSize,
            @Min(1) long maxImagePixels,
            @DecimalMin("0.0") double maxLatentMagnitude,
            @NotNull Duration bodyTimeout,
            @NotNull DataSize maxReceivingBytes,
            @NotNull DataSize maxModelBytes) {}

    /** Dynamic batching and back-pressure per model. */
    public record Batching(
            @Min(1) @Max(4096) int maxBatchSize,
            @NotNull Duration maxQueueDelay,
            @Min(1) int queueCapacity,
            @NotNull Duration requestTimeout,
            @NotNull Duration shutdownGrace,
            @Min(0) @Max(64) int workers,
            @Min(1) @Max(16) int priorityLevels,
            @Min(1) @Max(16) int defaultPriority) {

        public Batching {
            if (defaultPriority > priorityLevels) {
                throw new IllegalArgumentException("glow.batching.default-priority " + defaultPriority
                        + " is not one of the levels 1.." + priorityLevels + " (glow.batching.priority-levels)");
            }
        }

        /**
         * Workers for a model: as configured, or for 0 (auto) one on a GPU and, on a CPU, as many
         * as fit the cores given each pass's intra-op threads (2 on a 2-core machine, else 1).
         */
        public int workersFor(boolean gpu) {
            if (workers > 0) {
                return workers;
            }
            return gpu ? 1 : Workers.slots();
        }
    }
}
