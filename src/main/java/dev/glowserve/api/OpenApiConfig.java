package dev.glowserve.api;

import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.info.License;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Title and description of the OpenAPI document served at /v3/api-docs and kept in openapi.yaml. */
@Configuration
public class OpenApiConfig {

    @Bean
    OpenAPI glowServeOpenApi() {
        return new OpenAPI().info(new Info()
                .title("glow-serve")
                .version("v1")
                .license(new License().name("Apache-2.0"))
                .description("""
                        Glow normalizing-flow models over HTTP: sample, encode images to latents, decode latents to images,
                        score log-likelihood and bits/dim, interpolate and manipulate in latent space.

                        Images are PNGs (base64 in JSON) of the model's shape. Latents are the standardised eps of every level,
                        nested [C][H][W] arrays with their shapes; decode(encode(x)) = x exactly. Scores are deterministic
                        (mid-bin dequantisation): log p of the 8-bit image in nats and bits/dim = -log p / (D ln 2).

                        Errors are RFC 9457 problem+json: 400 malformed request, 404 unknown model, 405 wrong method,
                        406 unacceptable Accept, 413 body over glow.limits.max-request-size, 415 wrong content type,
                        422 well-formed but unusable input (not a PNG, wrong shape, NaN latents, values out of range),
                        429 queue full (see Retry-After), 503 model unavailable, shutting down or deadline passed.
                        """));
    }
}
