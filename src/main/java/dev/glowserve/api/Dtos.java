package dev.glowserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Schema;

import java.util.List;
import java.util.Map;

/** Request and response bodies of the {@code /v1} API. JSON names are snake_case. */
public final class Dtos {

    private Dtos() {}

    @Schema(description = "The model's architecture")
    public record ArchitectureInfo(
            @JsonProperty("in_channels") int inChannels,
            @JsonProperty("height") int height,
            @JsonProperty("width") int width,
            @JsonProperty("flows_per_level") int flowsPerLevel,
            @JsonProperty("levels") int levels,
            @JsonProperty("hidden_channels") int hiddenChannels,
            @JsonProperty("affine") boolean affine,
            @JsonProperty("lu") boolean lu,
            @JsonProperty("num_classes") int numClasses,
            @Schema(description = "How a step mixes its channels: conv-lu (the LU-parametrised 1x1 convolution), conv (a plain "
                    + "matrix), reverse or shuffle (fixed permutations)", example = "conv-lu")
            @JsonProperty("permutation") String permutation) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @Schema(description = "A served model")
    public record ModelInfo(
            @Schema(example = "fashion-mnist") @JsonProperty("name") String name,
            @Schema(example = "1") @JsonProperty("version") String version,
            @Schema(description = "available, draining or unavailable", example = "available") @JsonProperty("status") String status,
            @Schema(description = "Why the model is unavailable") @JsonProperty("error") String error,
            @JsonProperty("architecture") ArchitectureInfo architecture,
            @ArraySchema(arraySchema = @Schema(description = "Image shape [C, H, W]", example = "[1, 28, 28]"))
            @JsonProperty("image_shape") List<Integer> imageShape,
            @ArraySchema(arraySchema = @Schema(description = "Latent shape [C, H, W] of each level", example = "[[2, 14, 14], [8, 7, 7]]"))
            @JsonProperty("latent_shapes") List<List<Integer>> latentShapes,
            @Schema(example = "8") @JsonProperty("n_bits") Integer nBits,
            @Schema(description = "Class names of a class-conditional model (index = class id)") @JsonProperty("classes") List<String> classes,
            @Schema(example = "cpu") @JsonProperty("device") String device,
            @Schema(description = "Mean test-set bits/dim measured when the model was made", example = "3.25")
            @JsonProperty("test_bits_per_dim") Double testBitsPerDim,
            @Schema(description = "Quantiles of the test-set bits/dim per image (p1 … p99)")
            @JsonProperty("test_bits_per_dim_quantiles") Map<String, Double> testBitsPerDimQuantiles,
            @Schema(description = "The test-set bits/dim as papers report it (uniform dequantisation, mean over draws, with its "
                    + "standard error); test_bits_per_dim is the mid-bin score the service answers with")
            @JsonInclude(JsonInclude.Include.NON_NULL)
            @JsonProperty("test_bits_per_dim_dequantized") dev.glowserve.artifact.Manifest.Dequantized testBitsPerDimDequantized,
            @Schema(example = "876880") @JsonProperty("parameters") Long parameters,
            @Schema(example = "fashion-mnist") @JsonProperty("dataset") String dataset) {}

    public record ModelList(@JsonProperty("models") List<ModelInfo> models) {}

    @Schema(description = "One level of standardised latents eps, (z - mean) / sd of its prior: a C×H×W nested array")
    public record Latent(
            @ArraySchema(arraySchema = @Schema(description = "[C, H, W]", example = "[2, 14, 14]"))
            @JsonProperty("shape") List<Integer> shape,
            @Schema(description = "eps values nested as [C][H][W]", type = "array", example = "[[[0.1, -0.3], [1.2, 0.0]]]")
            @JsonProperty("eps") float[][][] eps) {}

    @Schema(description = "Sampling request")
    public record SampleRequest(
            @Schema(description = "Number of images (1 .. glow.limits.max-samples, default 64)", example = "4", defaultValue = "1")
            @JsonProperty("n") Integer n,
            @Schema(description = "Standard deviation of the latent noise; 0 gives the prior mean (0 .. glow.limits.max-temperature, default 2)",
                    example = "0.7", defaultValue = "0.7")
            @JsonProperty("temperature") Double temperature,
            @Schema(description = "Random seed; the same seed gives the same images. Drawn at random when absent and returned.",
                    example = "1")
            @JsonProperty("seed") Long seed,
            @Schema(description = "Class to sample (class-conditional models only); random classes when absent", example = "3")
            @JsonProperty("class") Integer cls,
            @Schema(description = "Also return each image's latents", defaultValue = "false")
            @JsonProperty("return_latents") Boolean returnLatents) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ImageResult(
            @Schema(description = "Base64-encoded PNG") @JsonProperty("png") String png,
            @Schema(description = "Class of the image (class-conditional models)") @JsonProperty("class") Integer cls,
            @JsonProperty("latents") List<Latent> latents) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SampleResponse(
            @JsonProperty("model") String model,
            @Schema(description = "The seed used (repeat it to get the same images)") @JsonProperty("seed") long seed,
            @JsonProperty("temperature") double temperature,
            @JsonProperty("images") List<ImageResult> images) {}

    @Schema(description = "Images as base64 PNGs, with optional classes (class-conditional models)")
    public record ImagesRequest(
            @ArraySchema(arraySchema = @Schema(description = "Base64-encoded PNGs of the model's image shape (1 .. glow.limits.max-images)",
                    requiredMode = Schema.RequiredMode.REQUIRED))
            @JsonProperty("images") List<String> images,
            @ArraySchema(arraySchema = @Schema(description = "Class per image (class-conditional models). Absent: the class is "
                    + "unknown, log p is the mixture over classes and the most probable class is used for the latents."))
            @JsonProperty("classes") List<Integer> classes,
            @Schema(description = "true: an image of another size or colour is fitted to the model's shape (colour to gray by "
                    + "luma, scaled to fit, centred on black) and the answer says so in 'fitted', instead of a 422")
            @JsonProperty("fit") Boolean fit,
            @Schema(description = "off, flag (each result gets 'ood': its score, p-value and verdict against the model's "
                    + "calibration) or reject (a request with an image below alpha is refused, 422). The model's own "
                    + "glow.models[i].ood-policy applies when it is stricter", allowableValues = {"off", "flag", "reject"})
            @JsonProperty("ood_policy") String oodPolicy) {}

    /** An input judged against the model's calibration by the default OOD method (ood-policy flag or reject). */
    @Schema(name = "InputVerdict")
    public record InputVerdict(
            @Schema(description = "The default method's OOD score: higher is less like the training data") @JsonProperty("score") double score,
            @Schema(description = "Fraction of the calibration images scoring at least as high") @JsonProperty("p_value") double pValue,
            @Schema(description = "p_value below glow.drift.alpha") @JsonProperty("outlier") boolean outlier) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ScoreResult(
            @Schema(description = "log p of the 8-bit image in nats", example = "-1765.2") @JsonProperty("log_p_nats") double logPNats,
            @Schema(description = "-log p / (D ln 2)", example = "3.25") @JsonProperty("bits_per_dim") double bitsPerDim,
            @Schema(description = "Class given, or the most probable class (class-conditional models)") @JsonProperty("class") Integer cls,
            @Schema(description = "p(class | image) per class, when the class was not given")
            @JsonProperty("class_probabilities") double[] classProbabilities,
            @Schema(description = "Against the model's calibration, with ood-policy flag or reject") @JsonProperty("ood") InputVerdict ood) {}

    public record ScoreResponse(@JsonProperty("model") String model, @JsonProperty("results") List<ScoreResult> results,
            @Schema(description = "What was fitted, per image (requests with fit: true); absent when nothing was")
            @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("fitted") List<String> fitted) {}

    /** The drift window of a model version and its tests (GET /v1/models/{model}/drift). */
    public record DriftResponse(
            @JsonProperty("model") String model,
            @JsonProperty("version") String version,
            @Schema(description = "The OOD method the window's scores are made by") @JsonProperty("method") String method,
            @Schema(description = "Inputs the window holds at most (glow.drift.window-size)") @JsonProperty("window_size") int windowSize,
            @Schema(description = "Older inputs leave the window (glow.drift.max-age)") @JsonProperty("max_age_seconds") long maxAgeSeconds,
            @Schema(description = "An input is flagged below this p-value (glow.drift.alpha)") @JsonProperty("alpha") double alpha,
            @Schema(description = "Inputs in the window now") @JsonProperty("inputs") int inputs,
            @Schema(description = "Seconds since the window's oldest input") @JsonProperty("age_seconds") double ageSeconds,
            @Schema(description = "Inputs of the window flagged at alpha") @JsonProperty("flagged") int flagged,
            @Schema(description = "One-sided binomial test of the flag count against alpha") @JsonProperty("binomial_p") double binomialP,
            @Schema(description = "Kolmogorov-Smirnov distance of the window's scores from the calibration's") @JsonProperty("ks_statistic")
            double ksStatistic,
            @Schema(description = "Its p-value") @JsonProperty("ks_p") double ksP,
            @Schema(description = "The alarm's p-value: min(1, 2 min(binomial_p, ks_p)); 1 while the window has too few inputs")
            @JsonProperty("p_value") double pValue,
            @JsonProperty("histogram") DriftHistogram histogram,
            @Schema(description = "The model's ood-policy: off, flag or reject") @JsonProperty("ood_policy") String oodPolicy) {}

    /** The window's scores beside the calibration's, as fractions on shared bins. */
    public record DriftHistogram(@JsonProperty("edges") double[] edges, @JsonProperty("window") double[] window,
            @JsonProperty("calibration") double[] calibration) {}

    @Schema(description = "Out-of-distribution request")
    public record OodRequest(
            @ArraySchema(arraySchema = @Schema(description = "Base64-encoded PNGs of the model's image shape (1 .. glow.limits.max-images)",
                    requiredMode = Schema.RequiredMode.REQUIRED))
            @JsonProperty("images") List<String> images,
            @Schema(description = "complexity (default: bits/dim minus PNG's bits/dim), likelihood (bits/dim alone), typicality "
                    + "(distance of the mean bits/dim from the held-out mean; also one answer for the batch) or orientation "
                    + "(complexity, and whether the image is likelier upside down: a second pass, 1.3-1.5 times the cost)",
                    example = "complexity", allowableValues = {"complexity", "likelihood", "typicality", "orientation"})
            @JsonProperty("method") String method,
            @Schema(description = "An image is an outlier when its p-value is below alpha", example = "0.05", defaultValue = "0.05")
            @JsonProperty("alpha") Double alpha,
            @Schema(description = "true: an image of another size or colour is fitted to the model's shape (colour to gray by "
                    + "luma, scaled to fit, centred on black) and the answer says so in 'fitted', instead of a 422")
            @JsonProperty("fit") Boolean fit) {}

    public record OodResult(
            @Schema(description = "-log p / (D ln 2), the marginal over classes", example = "3.01") @JsonProperty("bits_per_dim") double bitsPerDim,
            @Schema(description = "The image's size compressed losslessly (PNG), in bits per dimension", example = "4.7")
            @JsonProperty("complexity_bits_per_dim") double complexityBitsPerDim,
            @Schema(description = "The method's score; higher is more anomalous", example = "-1.9") @JsonProperty("score") double score,
            @Schema(description = "The fraction of held-out in-distribution images whose score is at least this one", example = "0.48")
            @JsonProperty("p_value") double pValue,
            @Schema(description = "p_value < alpha") @JsonProperty("outlier") boolean outlier) {}

    @Schema(description = "Typicality's answer for the batch as a whole")
    public record OodBatch(
            @JsonProperty("size") int size,
            @Schema(description = "|mean bits/dim of the batch − held-out mean|") @JsonProperty("score") double score,
            @Schema(description = "The score above which a batch of this size is an outlier at alpha (bootstrap)")
            @JsonProperty("threshold") double threshold,
            @JsonProperty("p_value") double pValue,
            @JsonProperty("outlier") boolean outlier) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record OodResponse(
            @JsonProperty("model") String model,
            @JsonProperty("method") String method,
            @JsonProperty("alpha") double alpha,
            @JsonProperty("results") List<OodResult> results,
            @Schema(description = "Present for typicality") @JsonProperty("batch") OodBatch batch,
            @Schema(description = "What was fitted, per image (requests with fit: true); absent when nothing was")
            @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("fitted") List<String> fitted) {}

    @Schema(description = "A method's held-out scores as a histogram")
    public record OodHistogram(
            @JsonProperty("method") String method,
            @Schema(description = "Bin edges, one more than counts") @JsonProperty("edges") double[] edges,
            @JsonProperty("counts") int[] counts,
            @Schema(description = "Scores above this are outliers at alpha 0.05") @JsonProperty("flagged_above") double flaggedAbove) {}

    public record OodCalibrationInfo(
            @JsonProperty("model") String model,
            @Schema(description = "The held-out in-distribution images") @JsonProperty("source") String source,
            @JsonProperty("images") int images,
            @JsonProperty("compressor") String compressor,
            @JsonProperty("default_method") String defaultMethod,
            @JsonProperty("mean_bits_per_dim") double meanBitsPerDim,
            @JsonProperty("histograms") List<OodHistogram> histograms) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record EncodeResult(
            @JsonProperty("latents") List<Latent> latents,
            @JsonProperty("log_p_nats") double logPNats,
            @JsonProperty("bits_per_dim") double bitsPerDim,
            @JsonProperty("class") Integer cls,
            @JsonProperty("class_probabilities") double[] classProbabilities,
            @Schema(description = "Against the model's calibration, with ood-policy flag or reject") @JsonProperty("ood") InputVerdict ood) {}

    public record EncodeResponse(@JsonProperty("model") String model, @JsonProperty("results") List<EncodeResult> results,
            @Schema(description = "What was fitted, per image (requests with fit: true); absent when nothing was")
            @JsonInclude(JsonInclude.Include.NON_NULL) @JsonProperty("fitted") List<String> fitted) {}

    @Schema(description = "Latents of one image; an encode result can be sent back as it is")
    // the scores of an encode result are known, and ignored; any other field is a mistake (400)
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties({"log_p_nats", "bits_per_dim", "class_probabilities", "ood"})
    public record DecodeItem(
            @ArraySchema(arraySchema = @Schema(description = "One entry per level, in order", requiredMode = Schema.RequiredMode.REQUIRED))
            @JsonProperty("latents") List<Latent> latents,
            @Schema(description = "Class (required for class-conditional models)") @JsonProperty("class") Integer cls) {}

    public record DecodeRequest(
            @ArraySchema(arraySchema = @Schema(description = "1 .. glow.limits.max-images items", requiredMode = Schema.RequiredMode.REQUIRED))
            @JsonProperty("items") List<DecodeItem> items) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ImagesResponse(
            @JsonProperty("model") String model,
            @JsonProperty("images") List<ImageResult> images,
            @Schema(description = "manipulate only: class_means (measured on training images) or top_prior")
            @JsonProperty("direction_source") String directionSource) {}

    @Schema(description = "An end of an interpolation: an image, or latents (with class for class-conditional models)")
    @com.fasterxml.jackson.annotation.JsonIgnoreProperties({"log_p_nats", "bits_per_dim", "class_probabilities"})
    public record PathEnd(
            @Schema(description = "Base64-encoded PNG") @JsonProperty("image") String image,
            @JsonProperty("latents") List<Latent> latents,
            @JsonProperty("class") Integer cls) {}

    public record InterpolateRequest(
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED) @JsonProperty("from") PathEnd from,
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED) @JsonProperty("to") PathEnd to,
            @Schema(description = "Images on the path, both ends included (2 .. glow.limits.max-interpolation-steps)",
                    example = "8", defaultValue = "8")
            @JsonProperty("steps") Integer steps,
            @Schema(description = "linear or slerp (spherical, keeps the latent norm)", allowableValues = {"linear", "slerp"},
                    defaultValue = "linear")
            @JsonProperty("method") String method,
            @Schema(description = "Class-conditional models: the class the whole path is decoded in (default: the class of "
                    + "'from', given or most probable). Image ends are encoded in it; latents ends must be in it.")
            @JsonProperty("class") Integer cls) {}

    public record ManipulateRequest(
            @Schema(description = "Base64-encoded PNG", requiredMode = Schema.RequiredMode.REQUIRED) @JsonProperty("image") String image,
            @Schema(description = "Class the image is taken to be; default: the most probable class", example = "0")
            @JsonProperty("from_class") Integer fromClass,
            @Schema(description = "Class to move towards", requiredMode = Schema.RequiredMode.REQUIRED, example = "3")
            @JsonProperty("to_class") Integer toClass,
            @ArraySchema(arraySchema = @Schema(description = "Scales of the move; 0 is the image itself (1 .. 16 values in [-4, 4])",
                    example = "[0, 0.5, 1, 1.5]"))
            @JsonProperty("scales") List<Double> scales) {}
}
