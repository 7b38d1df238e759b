package dev.glowserve.artifact;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Map;

/**
 * {@code manifest.json} of a model artifact (docs/DESIGN.md). Only {@code name} and
 * {@code architecture} are required; the rest describes how the model was made and measured.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
        @JsonProperty("name") String name,
        @JsonProperty("version") String version,
        @JsonProperty("architecture") Architecture architecture,
        @JsonProperty("n_bits") Integer nBits,
        @JsonProperty("dataset") String dataset,
        @JsonProperty("class_names") List<String> classNames,
        @JsonProperty("test_bits_per_dim") Double testBitsPerDim,
        @JsonProperty("test_bits_per_dim_quantiles") Map<String, Double> testBitsPerDimQuantiles,
        @JsonProperty("training") Training training) {

    /** How the model was trained. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Training(
            @JsonProperty("steps") Long steps,
            @JsonProperty("images_seen") Long imagesSeen,
            @JsonProperty("wall_time_seconds") Double wallTimeSeconds,
            @JsonProperty("batch_size") Integer batchSize,
            @JsonProperty("learning_rate") Double learningRate,
            @JsonProperty("seed") Long seed,
            @JsonProperty("command") String command,
            @JsonProperty("finished_at") String finishedAt) {}

    public int bits() {
        return nBits == null ? 8 : nBits;
    }

    public String versionOrDefault() {
        return version == null ? "1" : version;
    }

    public Manifest withName(String newName) {
        return new Manifest(newName, version, architecture, nBits, dataset, classNames, testBitsPerDim,
                testBitsPerDimQuantiles, training);
    }

    public Manifest withTestResult(double bitsPerDim, Map<String, Double> quantiles) {
        return new Manifest(name, version, architecture, nBits, dataset, classNames, bitsPerDim, quantiles, training);
    }

    public Manifest withTraining(Training t) {
        return new Manifest(name, version, architecture, nBits, dataset, classNames, testBitsPerDim,
                testBitsPerDimQuantiles, t);
    }
}
