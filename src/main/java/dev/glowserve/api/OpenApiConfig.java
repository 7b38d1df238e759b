package dev.glowserve.api;

import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.examples.Example;
import io.swagger.v3.oas.models.headers.Header;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.info.License;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.IntegerSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.ObjectSchema;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.media.StringSchema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.servers.Server;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The OpenAPI document served at /v3/api-docs (and kept as the top-level openapi.yaml): title,
 * description, and the RFC 9457 errors every operation can answer, each with an example.
 */
@Configuration
public class OpenApiConfig {

    private record Error(String status, String description, String type, String detail) {}

    private static final List<Error> POST_ERRORS = List.of(
            new Error("400", "Malformed request: invalid JSON, missing or unknown field, a number out of its field's range, "
                    + "invalid base64, a path not in canonical form", "malformed-request", "images is missing or empty"),
            new Error("404", "No model of that name", "unknown-model", "no model named 'mnist'; models: fashion-mnist"),
            new Error("406", "The Accept header asks for a type this operation cannot produce", null,
                    "Acceptable representations: [application/json, image/png]."),
            new Error("408", "The body did not arrive within glow.limits.body-timeout", "body-timeout",
                    "the request body did not arrive within 10000 ms (glow.limits.body-timeout)"),
            new Error("413", "Body larger than glow.limits.max-request-size", "payload-too-large",
                    "request body is larger than the limit of 8388608 bytes (glow.limits.max-request-size)"),
            new Error("415", "Content-Type other than application/json (or multipart/form-data for encode)", null,
                    "Content-Type 'text/plain' is not supported."),
            new Error("422", "Well-formed but unusable: not a PNG, corrupt, decompression bomb, wrong image or latent shape, "
                    + "NaN/Inf or out-of-bound latents, n/steps/temperature/class out of range", "wrong-shape",
                    "images[0]: image is 32×32 but model 'fashion-mnist' takes 28×28 grayscale images"),
            new Error("429", "The model's queue is full; retry after Retry-After seconds", "queue-full",
                    "model 'fashion-mnist' has 256 requests queued, its limit; retry after 2 s"),
            new Error("503", "Model unavailable, service shutting down, or the request waited past its deadline",
                    "deadline-exceeded", "request waited 30012 ms for model 'fashion-mnist', past its deadline; it was not computed"));

    @Bean
    OpenAPI glowServeOpenApi() {
        return new OpenAPI().servers(List.of(new Server().url("/").description("this service")))
                // the key, when glow.security.api-key is set: Swagger UI's Authorize sends it with every call
                .components(new io.swagger.v3.oas.models.Components().addSecuritySchemes("apiKey",
                        new io.swagger.v3.oas.models.security.SecurityScheme().type(io.swagger.v3.oas.models.security.SecurityScheme.Type.APIKEY)
                                .in(io.swagger.v3.oas.models.security.SecurityScheme.In.HEADER).name("X-API-Key")
                                .description("glow.security.api-key, when set (open otherwise)")))
                .addSecurityItem(new io.swagger.v3.oas.models.security.SecurityRequirement().addList("apiKey"))
                .info(new Info()
                .title("glow-serve")
                .version("v1")
                .license(new License().name("Apache-2.0"))
                .description("""
                        Glow normalizing-flow models over HTTP: sample, encode images to latents, decode latents to images,
                        score log-likelihood and bits/dim, interpolate and manipulate in latent space, and ask whether an
                        image is like the training data (/v1/models/{model}/ood: a score, a calibrated p-value, a verdict).
                        The same models speak the Open Inference Protocol (KServe V2, Triton's HTTP protocol) under /v2,
                        with binary tensors and Triton's model repository. Every example here runs as it is against the
                        shipped model, fashion-mnist.

                        Images are PNGs (base64 in JSON) of the model's shape. Latents are the standardised eps of every level,
                        nested [C][H][W] arrays with their shapes; decode(encode(x)) = x exactly. Scores are deterministic
                        (mid-bin dequantisation): log p of the 8-bit image in nats and bits/dim = -log p / (D ln 2).

                        Limits (glow.limits.*, defaults): max-images 64 per request, max-samples 64, max-temperature 2.0,
                        max-interpolation-steps 64, max-request-size 8MB, max-image-pixels 1048576, max-latent-magnitude 1000.

                        With glow.security.api-key set, send the key as X-API-Key or Authorization: Bearer (Authorize).

                        Errors are RFC 9457 problem+json: 400 malformed request, 401 no or a wrong API key, 404 unknown
                        model, 405 wrong method, 406 unacceptable Accept, 408 body too slow, 413 body over
                        glow.limits.max-request-size, 415 wrong content type,
                        422 well-formed but unusable input (not a PNG, wrong shape, NaN latents, values out of range),
                        429 queue full (see Retry-After), 503 model unavailable, shutting down or deadline passed.
                        """));
    }

    @Bean
    OpenApiCustomizer problemResponses() {
        return api -> {
            api.getComponents().addSchemas("Problem", problemSchema());
            for (Map.Entry<String, PathItem> e : api.getPaths().entrySet()) {
                if (!e.getKey().startsWith("/v1/")) {
                    continue;
                }
                PathItem item = e.getValue();
                if (item.getPost() != null) {
                    POST_ERRORS.forEach(err -> add(item.getPost(), err));
                }
                if (item.getGet() != null && e.getKey().contains("{model}")) {
                    add(item.getGet(), POST_ERRORS.get(1));
                }
            }
        };
    }

    private static Schema<?> problemSchema() {
        Map<String, Schema> props = new LinkedHashMap<>();
        props.put("type", new StringSchema().description("Problem type URI").example("urn:glow-serve:problem:out-of-range"));
        props.put("title", new StringSchema().description("HTTP reason phrase").example("Unprocessable Content"));
        props.put("status", new IntegerSchema().description("HTTP status").example(422));
        props.put("detail", new StringSchema().description("What is wrong and how to fix it").example("n = 65 is outside 1..64"));
        props.put("instance", new StringSchema().description("The request path").example("/v1/models/fashion-mnist/sample"));
        props.put("field", new StringSchema().description("The input at fault, where the problem names one").example("n"));
        ObjectSchema s = new ObjectSchema();
        s.setProperties(props);
        s.description("RFC 9457 problem details");
        return s;
    }

    private static void add(Operation op, Error err) {
        if (op.getResponses().containsKey(err.status())) {
            return;
        }
        Map<String, Object> example = new LinkedHashMap<>();
        if (err.type() != null) {
            example.put("type", ProblemHandler.TYPE_PREFIX + err.type());
        }
        example.put("title", switch (err.status()) {
            case "400" -> "Bad Request";
            case "404" -> "Not Found";
            case "406" -> "Not Acceptable";
            case "413" -> "Content Too Large";
            case "415" -> "Unsupported Media Type";
            case "422" -> "Unprocessable Content";
            case "429" -> "Too Many Requests";
            default -> "Service Unavailable";
        });
        example.put("status", Integer.parseInt(err.status()));
        example.put("detail", err.detail());
        example.put("instance", "/v1/models/fashion-mnist/encode");
        ApiResponse r = new ApiResponse().description(err.description()).content(new Content().addMediaType("application/problem+json",
                new MediaType().schema(new Schema<>().$ref("#/components/schemas/Problem"))
                        .addExamples(err.type() == null ? "error" : err.type(), new Example().value(example))));
        if (err.status().equals("429") || err.status().equals("503")) {
            r.addHeaderObject("Retry-After", new Header().description("Seconds to wait before retrying")
                    .schema(new IntegerSchema()));
        }
        op.getResponses().addApiResponse(err.status(), r);
    }
}
