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
        @JsonProperty("training") Training training,
        @JsonProperty("test_bits_per_dim_dequantized") Dequantized testBitsPerDimDequantized) {

    /** A manifest without the dequantised test figure (most are: only `score --dequantize K --record` writes it). */
    public Manifest(String name, String version, Architecture architecture, Integer nBits, String dataset, List<String> classNames,
            Double testBitsPerDim, Map<String, Double> testBitsPerDimQuantiles, Training training) {
        this(name, version, architecture, nBits, dataset, classNames, testBitsPerDim, testBitsPerDimQuantiles, training, null);
    }

    /**
     * The test bits/dim as the literature reports it: the image's bins filled with uniform noise (E over {@code draws}
     * draws from {@code seed}), with the standard error of that mean over the {@code images} images.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Dequantized(
            @JsonProperty("mean") double mean,
            @JsonProperty("standard_error") double standardError,
            @JsonProperty("draws") int draws,
            @JsonProperty("images") int images,
            @JsonProperty("seed") long seed,
            @JsonProperty("command") String command) {}

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
                testBitsPerDimQuantiles, training, testBitsPerDimDequantized);
    }

    public Manifest withTestResult(double bitsPerDim, Map<String, Double> quantiles) {
        return new Manifest(name, version, architecture, nBits, dataset, classNames, bitsPerDim, quantiles, training,
                testBitsPerDimDequantized);
    }

    public Manifest withTraining(Training t) {
        return new Manifest(name, version, architecture, nBits, dataset, classNames, testBitsPerDim,
                testBitsPerDimQuantiles, t, testBitsPerDimDequantized);
    }

    public Manifest withDequantized(Dequantized d) {
        return new Manifest(name, version, architecture, nBits, dataset, classNames, testBitsPerDim, testBitsPerDimQuantiles,
                training, d);
    }
}
