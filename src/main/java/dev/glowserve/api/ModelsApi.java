package dev.glowserve.api;

import dev.glowserve.api.Dtos.DecodeRequest;
import dev.glowserve.api.Dtos.EncodeResponse;
import dev.glowserve.api.Dtos.ImagesRequest;
import dev.glowserve.api.Dtos.ImagesResponse;
import dev.glowserve.api.Dtos.InterpolateRequest;
import dev.glowserve.api.Dtos.ManipulateRequest;
import dev.glowserve.api.Dtos.ModelInfo;
import dev.glowserve.api.Dtos.ModelList;
import dev.glowserve.api.Dtos.SampleRequest;
import dev.glowserve.api.Dtos.SampleResponse;
import dev.glowserve.api.Dtos.ScoreResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.ExampleObject;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code /v1} API as its OpenAPI document describes it ({@link ModelsController} serves it): the documentation
 * lives here so that the controller reads as what it does.
 */
@Tag(name = "models", description = "Sample, encode, decode, score, interpolate and manipulate with Glow models")
interface ModelsApi {

    /** Schema of the multipart form of encode (documentation only). */
    @Schema(name = "MultipartImages")
    record MultipartImages(
            @Schema(description = "PNG files", type = "array", format = "binary") List<byte[]> images,
            @Schema(description = "Class per image (class-conditional models)") List<Integer> classes) {}

    @Operation(summary = "List the served models")
    ModelList models();

    @Operation(summary = "Describe one model", description = "Architecture, image shape, n_bits, classes, device, measured bits/dim, parameter count.")
    ModelInfo model(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model);

    @Operation(summary = "Draw samples", description = "Draws eps ~ N(0, T²) from the seed and decodes it. The same seed and "
            + "temperature give the same images. With Accept: image/png the answer is one PNG grid (seed in the X-Seed header).",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    examples = @ExampleObject(name = "four of class 3", value = ApiExamples.SAMPLE))))
    @ApiResponse(responseCode = "200", description = "The images", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = SampleResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    CompletableFuture<SampleResponse> sample(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, SampleRequest body);

    @Operation(summary = "Encode images to latents", description = "Per image: the standardised latents eps of every level "
            + "(nested [C][H][W] arrays with their shapes), log p in nats and bits/dim (deterministic, mid-bin). Images come "
            + "as base64 PNGs in JSON, or as multipart/form-data file parts named 'images' (with optional 'classes' parts).",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = {
                    @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesRequest.class),
                            examples = @ExampleObject(name = "a sneaker", value = ApiExamples.IMAGES)),
                    @Content(mediaType = "multipart/form-data", schema = @Schema(implementation = MultipartImages.class))}))
    @ApiResponse(responseCode = "200", description = "Latents and scores",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = EncodeResponse.class)))
    CompletableFuture<EncodeResponse> encode(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, ImagesRequest body);

    @Operation(summary = "Score images", description = "log p in nats and bits/dim per image, deterministic (mid-bin "
            + "dequantisation). Class-conditional models without classes give the mixture over classes and p(class | image). "
            + "Images come as base64 PNGs in JSON, or as multipart/form-data file parts named 'images'.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = {
                    @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesRequest.class),
                            examples = @ExampleObject(name = "a sneaker", value = ApiExamples.IMAGES)),
                    @Content(mediaType = "multipart/form-data", schema = @Schema(implementation = MultipartImages.class))}))
    @ApiResponse(responseCode = "200", description = "Scores",
            content = @Content(mediaType = "application/json", schema = @Schema(implementation = ScoreResponse.class)))
    CompletableFuture<ScoreResponse> logLikelihood(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, ImagesRequest body);

    @Operation(summary = "Decode latents to images", description = "The exact inverse of encode: decode(encode(x)) = x. Each "
            + "level's eps must have the model's shape, finite values within ±glow.limits.max-latent-magnitude; class-conditional "
            + "models need each item's class. With Accept: image/png the answer is one PNG grid.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = @Content(
                    mediaType = "application/json", schema = @Schema(implementation = DecodeRequest.class),
                    examples = @ExampleObject(name = "the prior's mode of class 7", value = ApiExamples.DECODE))))
    @ApiResponse(responseCode = "200", description = "The images", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    CompletableFuture<ImagesResponse> decode(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, DecodeRequest body);

    @Operation(summary = "Interpolate in latent space", description = "Encodes the two ends (images or latents), mixes their eps "
            + "linearly or spherically and decodes the path, both ends included. With Accept: image/png, one PNG strip.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(content = @Content(mediaType = "application/json",
                    examples = @ExampleObject(name = "sneaker to ankle boot", value = ApiExamples.INTERPOLATE))))
    @ApiResponse(responseCode = "200", description = "The path", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    CompletableFuture<ImagesResponse> interpolate(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, InterpolateRequest body);

    @Operation(summary = "Move an image towards another class", description = "Class-conditional models. The image's latents move "
            + "along the direction between two class means, scaled (the Glow paper's attribute manipulation). The move is made "
            + "in the flow's raw latent z, which unlike eps does not depend on the class used to standardise it; the means are "
            + "measured on training images when the artifact has them, otherwise the top prior's class means are used.",
            requestBody = @io.swagger.v3.oas.annotations.parameters.RequestBody(required = true, content = @Content(
                    mediaType = "application/json", schema = @Schema(implementation = ManipulateRequest.class),
                    examples = @ExampleObject(name = "a sneaker towards an ankle boot", value = ApiExamples.MANIPULATE))))
    @ApiResponse(responseCode = "200", description = "One image per scale; with Accept: image/png, one PNG strip", content = {
            @Content(mediaType = "application/json", schema = @Schema(implementation = ImagesResponse.class)),
            @Content(mediaType = "image/png", schema = @Schema(type = "string", format = "binary"))})
    CompletableFuture<ImagesResponse> manipulate(@Parameter(description = "Model name", example = ApiExamples.MODEL) String model, ManipulateRequest body);
}
