package dev.glowserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.ExampleObject;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.http.ResponseEntity;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The Open Inference Protocol as the OpenAPI document describes it ({@link V2Controller} serves it, and
 * {@link V2RepositoryController} the model repository): the protocol's request and response shapes, which the
 * controllers read and write as JSON trees because binary tensors may follow the JSON.
 */
@Tag(name = "v2", description = "Open Inference Protocol (KServe V2) with Triton's binary tensor and model repository extensions")
interface V2Api {

    String PROTOCOL_MODELS = "For a served model m: 'm' scores (IMAGES UINT8 [-1,C,H,W] -> LOG_P_NATS, BITS_PER_DIM FP64 [-1], "
            + "CLASS_PROBABILITIES FP64 [-1,K] when class-conditional); 'm-encode' (IMAGES, optional CLASS INT64 [-1] -> EPS_0 .. "
            + "EPS_{L-1} FP32, LOG_P_NATS, BITS_PER_DIM, and when class-conditional CLASS, the class the latents are relative to); 'm-decode' (EPS_0 .. EPS_{L-1}, optional CLASS -> IMAGES UINT8); "
            + "'m-sample' (TEMPERATURE FP32 [-1], one per image, optional SEED INT64 [1] and CLASS -> IMAGES); 'm-ood' (IMAGES -> SCORE, "
            + "P_VALUE FP64, OUTLIER BOOL [-1]; request parameters method and alpha, as /v1's ood).";

    /** An input or output tensor. */
    @Schema(name = "V2Tensor")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Tensor(
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED, example = "IMAGES") String name,
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED, allowableValues = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                    "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"}, example = "UINT8") String datatype,
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED, example = "[1, 1, 28, 28]") long[] shape,
            @Schema(description = "binary_data_size: the tensor's bytes follow the JSON header instead of 'data'")
            Map<String, Object> parameters,
            @Schema(description = "The values in row-major order, flat or nested; absent when the tensor is binary") List<Object> data) {}

    /** An output the client asks for. */
    @Schema(name = "V2RequestedOutput")
    record RequestedOutput(
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED, example = "BITS_PER_DIM") String name,
            @Schema(description = "binary_data: true to get this output's bytes after the JSON header") Map<String, Object> parameters) {}

    @Schema(name = "V2InferenceRequest")
    record InferenceRequest(
            @Schema(description = "Echoed in the response") String id,
            @Schema(description = "binary_data_output: true to get every output as binary data; priority: 1 is served first "
                    + "(levels 1..glow.batching.priority-levels, 0 the default level); timeout: microseconds this request "
                    + "may wait for its batch before it is dropped uncomputed (503)") Map<String, Object> parameters,
            @Schema(requiredMode = Schema.RequiredMode.REQUIRED) List<Tensor> inputs,
            @Schema(description = "Which outputs, in this order (default: all)") List<RequestedOutput> outputs) {}

    @Schema(name = "V2InferenceResponse")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record InferenceResponse(
            @JsonProperty("model_name") String modelName,
            @JsonProperty("model_version") String modelVersion,
            String id,
            List<Tensor> outputs) {}

    /** Every V2 error. */
    @Schema(name = "V2Error")
    record ErrorBody(@Schema(example = "input 'IMAGES' must be UINT8, not FP32") String error) {}

    @Schema(name = "V2RepositoryIndexRequest")
    record IndexRequest(@Schema(description = "true: only the versions being served") Boolean ready) {}

    @Schema(name = "V2LoadRequest")
    record LoadRequest(@Schema(description = "version: the version to load (default: the highest)", example = "{\"version\": \"2\"}")
            Map<String, Object> parameters) {}

    @Operation(summary = "Server metadata: name, version and the protocol extensions")
    V2Controller.ServerMetadata server();

    @Operation(summary = "Liveness: the server answers (no API key needed)")
    V2Controller.Live live();

    @Operation(summary = "Readiness: every served model is loaded and taking requests (503 otherwise; no API key needed)")
    ResponseEntity<V2Controller.Ready> ready();

    @Operation(summary = "Model metadata: versions, platform, inputs and outputs (name, datatype, shape; -1 varies)",
            description = PROTOCOL_MODELS)
    @ApiResponse(responseCode = "200", description = "The model's tensors")
    @ApiResponse(responseCode = "404", description = "No such model or version",
            content = @Content(schema = @Schema(implementation = ErrorBody.class)))
    V2Controller.ModelMetadata metadata(@Parameter(example = "fashion-mnist-encode") String model,
            @Parameter(example = ApiExamples.VERSION) String version);

    @Operation(summary = "Model readiness (503 while it is draining or unavailable; 404 unknown)")
    ResponseEntity<V2Controller.ModelReady> modelReady(@Parameter(example = "fashion-mnist-encode") String model,
            @Parameter(example = ApiExamples.VERSION) String version);

    @Operation(summary = "Statistics (Triton's extension): every model's, or one model version's, since it loaded",
            description = "success and fail: requests answered and their total time (ns) from validation to response; queue: "
                    + "time waited for a batch; compute_infer: the batched passes, also per batch size; inference_count: "
                    + "images computed; execution_count: passes. The same figures are Prometheus histograms on the "
                    + "management port.")
    @ApiResponse(responseCode = "200", description = "The statistics")
    @ApiResponse(responseCode = "404", description = "No such model or version",
            content = @Content(schema = @Schema(implementation = ErrorBody.class)))
    V2Controller.Statistics statistics(@Parameter(example = "fashion-mnist") String model,
            @Parameter(example = ApiExamples.VERSION) String version);

    @Operation(summary = "Inference", description = "An inference request as JSON, or with binary tensors: the JSON header "
            + "(Inference-Header-Content-Length bytes), then each binary input's parameters.binary_data_size bytes, "
            + "little-endian, no padding. Outputs come as JSON data, or as binary data after the header where requested "
            + "(parameters.binary_data on an output, binary_data_output on the request); a binary answer carries "
            + "Inference-Header-Content-Length too. " + PROTOCOL_MODELS,
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = {
                    @Content(mediaType = "application/json", schema = @Schema(implementation = InferenceRequest.class),
                            examples = @ExampleObject(name = "two samples", value = ApiExamples.V2_SAMPLE)),
                    @Content(mediaType = "application/octet-stream", schema = @Schema(type = "string", format = "binary",
                            description = "The JSON header, then the binary tensors' bytes"))}))
    @ApiResponse(responseCode = "200", description = "The outputs", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = InferenceResponse.class)),
            @Content(mediaType = "application/octet-stream", schema = @Schema(type = "string", format = "binary"))})
    @ApiResponse(responseCode = "400", description = "Malformed request: JSON, datatype, shape, sizes, inputs, values",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    @ApiResponse(responseCode = "404", description = "No such model or version",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    @ApiResponse(responseCode = "413", description = "Body over glow.limits.max-request-size",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    @ApiResponse(responseCode = "429", description = "The model's queue is full; Retry-After says when to try again",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    @ApiResponse(responseCode = "503", description = "Unavailable, shutting down, or past the deadline",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    CompletableFuture<ResponseEntity<byte[]>> infer(@Parameter(example = "fashion-mnist-sample") String model,
            @Parameter(example = ApiExamples.VERSION) String version,
            @Parameter(description = "Length of the JSON header when binary tensors follow it") String headerLength, byte[] body);
}
