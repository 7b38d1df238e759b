package dev.glowserve.api;

import dev.glowserve.api.V2Api.ErrorBody;
import dev.glowserve.api.V2Api.IndexRequest;
import dev.glowserve.api.V2Api.LoadRequest;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.ExampleObject;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;

import java.util.List;
import java.util.Map;

/** Triton's model-repository extension as the OpenAPI document describes it ({@link V2RepositoryController} serves it). */
@Tag(name = "v2", description = "Open Inference Protocol (KServe V2) with Triton's binary tensor and model repository extensions")
interface V2RepositoryApi {

    @Operation(summary = "The repository's model versions and the served models: name, version, state (READY, UNAVAILABLE), reason",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    schema = @Schema(implementation = IndexRequest.class),
                    examples = @ExampleObject(name = "the versions being served", value = ApiExamples.V2_INDEX))))
    List<V2RepositoryController.RepositoryModel> index(byte[] body);

    @Operation(summary = "Load a model version from glow.model-repository (glow.model-control=explicit)",
            description = "Loads the highest version, or parameters.version, and serves it under the model's name. A version "
                    + "already served keeps serving until the new one is ready, then finishes its requests and is freed; "
                    + "the call answers once that is done. A version that fails to load changes nothing.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    schema = @Schema(implementation = LoadRequest.class),
                    examples = @ExampleObject(name = "version 2", value = ApiExamples.V2_LOAD))))
    @ApiResponse(responseCode = "200", description = "Loaded and serving")
    @ApiResponse(responseCode = "400", description = "No such model or version, the artifact failed to load, or model control is none",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    Map<String, Object> load(@Parameter(example = ApiExamples.MODEL) String model, byte[] body);

    @Operation(summary = "Unload a model: new requests get 404 at once, the ones in flight finish first, then it is freed",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    examples = @ExampleObject(name = "no parameters", value = "{}"))))
    @ApiResponse(responseCode = "200", description = "Unloaded")
    @ApiResponse(responseCode = "404", description = "No such model is served",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ErrorBody.class)))
    Map<String, Object> unload(@Parameter(example = ApiExamples.MODEL) String model, byte[] body);
}
