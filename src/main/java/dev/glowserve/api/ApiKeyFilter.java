package dev.glowserve.api;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpMethod;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * API-key authentication for {@code /v1/**} and {@code /v2/**} (but its health endpoints), off unless
 * {@code glow.security.api-key} or {@code glow.security.api-key-file} is set. The key comes in {@code X-API-Key} or as
 * {@code Authorization: Bearer <key>}; keys are compared in constant time (as SHA-256 digests, so
 * not even the length leaks). Health probes, the web page and the API docs stay open.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 5)
public class ApiKeyFilter extends OncePerRequestFilter {

    private static final Logger LOG = LoggerFactory.getLogger(ApiKeyFilter.class);

    private final byte[] expectedDigest;

    public ApiKeyFilter(SecurityProperties properties) {
        String key = properties.apiKey();
        if ((key == null || key.isBlank()) && properties.apiKeyFile() != null) {
            try {
                key = Files.readString(properties.apiKeyFile(), StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("glow.security.api-key-file " + properties.apiKeyFile() + " cannot be read", e);
            }
            if (key.isEmpty()) {
                throw new IllegalStateException("glow.security.api-key-file " + properties.apiKeyFile() + " is empty");
            }
        }
        this.expectedDigest = key == null || key.isBlank() ? null : sha256(key);
        LOG.info("API key authentication for /v1/** and /v2/**: {}", expectedDigest == null ? "off" : "on");
    }

    public boolean enabled() {
        return expectedDigest != null;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        // CORS preflights carry no credentials by design
        String uri = request.getRequestURI();
        boolean guarded = uri.startsWith("/v1/") || (ErrorBodies.isV2(uri) && !uri.startsWith("/v2/health/"));
        return expectedDigest == null || !guarded || HttpMethod.OPTIONS.matches(request.getMethod());
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String given = request.getHeader("X-API-Key");
        String auth = request.getHeader("Authorization");
        if (given == null && auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            given = auth.substring(7).strip();
        }
        if (given != null && MessageDigest.isEqual(sha256(given), expectedDigest)) {
            chain.doFilter(request, response);
            return;
        }
        response.setHeader("WWW-Authenticate", "Bearer realm=\"glow-serve\"");
        String detail = given == null ? "an API key is required: send it as X-API-Key or Authorization: Bearer"
                : "the API key is not valid";
        ErrorBodies.write(request, response, 401, "unauthorized", "Unauthorized", detail);
    }
}
