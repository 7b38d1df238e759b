package dev.glowserve.api;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.nio.file.Path;
import java.util.List;

/**
 * {@code glow.security.*}: an optional API key for {@code /v1/**} (off unless a key or key file is
 * set; the file is how a Kubernetes Secret is mounted) and the origins allowed by CORS (none by default).
 */
@ConfigurationProperties("glow.security")
public record SecurityProperties(String apiKey, Path apiKeyFile, List<String> corsAllowedOrigins) {

    public SecurityProperties {
        corsAllowedOrigins = corsAllowedOrigins == null ? List.of() : List.copyOf(corsAllowedOrigins);
    }
}
