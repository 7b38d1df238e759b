package dev.glowserve.api;

import dev.glowserve.api.Dtos.DriftResponse;
import dev.glowserve.api.Dtos.OodCalibrationInfo;
import dev.glowserve.api.Dtos.OodRequest;
import dev.glowserve.api.Dtos.OodResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.ExampleObject;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** {@code /v1/models/{model}/ood} as the OpenAPI document describes it ({@link OodController} serves it). */
@Tag(name = "models", description = "Sample, encode, decode, score, interpolate and manipulate with Glow models")
interface OodApi {

    /** Schema of the multipart form of ood (documentation only). */
    @Schema(name = "MultipartOodImages")
    record MultipartOodImages(
            @Schema(description = "PNG files", type = "array", format = "binary") List<byte[]> images,
            @Schema(description = "complexity, likelihood, typicality or orientation") String method,
            @Schema(description = "Significance of the outlier flag (default 0.05)") Double alpha) {}

    @Operation(summary = "Is each image like the training data?", description = "Per image: bits/dim, its compressed bits/dim, "
            + "the method's score (higher: more anomalous), its p-value (the fraction of held-out in-distribution images scoring at "
            + "least as high, from the model's calibration) and the verdict p < alpha. Raw likelihood fails at this (digits score "
            + "higher than clothes); the default, complexity, subtracts the image's PNG size. typicality also answers for the "
            + "batch as a whole; orientation adds a test of whether the image is the right way up (a second pass). A model "
            + "without a calibration (or one without the method) answers 409.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = {
                    @Content(mediaType = "application/json", schema = @Schema(implementation = OodRequest.class),
                            examples = @ExampleObject(name = "a sneaker", value = ApiExamples.OOD)),
                    @Content(mediaType = "multipart/form-data", schema = @Schema(implementation = MultipartOodImages.class))}))
    @ApiResponse(responseCode = "200", description = "The verdicts",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = OodResponse.class)))
    @ApiResponse(responseCode = "409", description = "The model has no out-of-distribution calibration (glow-serve calibrate makes one)",
            content = @Content(mediaType = "application/problem+json"))
    CompletableFuture<OodResponse> ood(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, OodRequest body);

    @Operation(summary = "Drift: does the recent traffic still look like the training data?", description = "The model "
            + "version's window of recent inputs (every image encoded, scored or judged by /ood, on any API: the last window_size, "
            + "none older than max_age_seconds), each scored by the default OOD method, tested against the calibration: a "
            + "binomial test of how many were flagged at alpha, and a two-sample Kolmogorov-Smirnov test of their scores. "
            + "p_value, the smaller of the two doubled, is the alarm's (glow_drift_p_value): for traffic exchangeable with the "
            + "calibration images it falls below a in at most a fraction a of windows. The histogram shows the window beside "
            + "the calibration on the same bins. A model without a calibration answers 409.")
    @ApiResponse(responseCode = "200", description = "The window and its tests")
    @ApiResponse(responseCode = "409", description = "The model has no calibration", content = @Content(mediaType = "application/problem+json"))
    CompletableFuture<DriftResponse> drift(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model);

    @Operation(summary = "The model's out-of-distribution calibration", description = "Where the held-out images came from, the "
            + "compressor, the default method, and each method's held-out scores as a histogram with the score above which an "
            + "image is flagged at alpha 0.05 (the web page draws them).")
    @ApiResponse(responseCode = "409", description = "The model has no calibration", content = @Content(mediaType = "application/problem+json"))
    OodCalibrationInfo calibration(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model);
}
