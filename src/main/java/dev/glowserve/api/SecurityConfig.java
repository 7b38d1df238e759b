package dev.glowserve.api;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.security.authentication.AuthenticationManager;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configurers.AbstractHttpConfigurer;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.AnonymousAuthenticationFilter;
import org.springframework.security.web.authentication.AuthenticationEntryPointFailureHandler;
import org.springframework.security.web.authentication.AuthenticationFilter;
import org.springframework.security.web.firewall.RequestRejectedHandler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Set;

/**
 * Who may call what, decided by Spring Security on the path the router uses. Its firewall ({@code StrictHttpFirewall})
 * refuses, before anything else reads the request, every spelling that could make a security decision and the router
 * see different paths: {@code ;} parameters, encoded slashes, dots and percent signs, {@code //}, backslashes, control
 * characters; what is left ({@code /%761/...}) is matched decoded, as Spring MVC routes it.
 *
 * <p>With {@code glow.security.api-key} (or {@code -file}) set, {@code /v1/**}, {@code /v2/**} (but its health
 * probes) and the API docs need the key, in {@code X-API-Key} or {@code Authorization: Bearer}; keys are compared in
 * constant time as SHA-256 digests, so not even the length leaks. The web page stays open (it asks for the key); the
 * actuator is on the management port, which the Ingress does not publish.
 */
@Configuration
public class SecurityConfig {

    private static final Logger LOG = LoggerFactory.getLogger(SecurityConfig.class);
    private static final Set<String> HTTP_METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH");
    private static final String REQUIRED = "an API key is required: send it as X-API-Key or Authorization: Bearer";

    /**
     * The API key's only authority (no users, no passwords): compares a presented key with the configured one, in
     * constant time as SHA-256 digests. Without a key configured the API is open and nothing is compared.
     */
    static final class ApiKeyAuthentication implements AuthenticationManager {
        private final byte[] expected;

        ApiKeyAuthentication(SecurityProperties properties) {
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
            this.expected = key == null || key.isBlank() ? null : sha256(key);
        }

        boolean enabled() {
            return expected != null;
        }

        @Override
        public Authentication authenticate(Authentication presented) {
            if (expected != null && presented.getCredentials() instanceof String key && MessageDigest.isEqual(sha256(key), expected)) {
                return UsernamePasswordAuthenticationToken.authenticated("api-key", null, List.of());
            }
            throw new BadCredentialsException("the API key is not valid");
        }

        private static byte[] sha256(String s) {
            try {
                return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Bean
    ApiKeyAuthentication apiKeyAuthentication(SecurityProperties properties) {
        return new ApiKeyAuthentication(properties);
    }

    @Bean
    SecurityFilterChain api(HttpSecurity http, ApiKeyAuthentication apiKeyAuthentication) throws Exception {
        boolean keyed = apiKeyAuthentication.enabled();
        LOG.info("API key authentication for /v1/**, /v2/** and the API docs: {}", keyed ? "on" : "off");
        AuthenticationEntryPoint entryPoint = SecurityConfig::unauthorized;
        http.csrf(AbstractHttpConfigurer::disable) // no cookies or sessions: a key in a header is not sent by a browser on its own
                .httpBasic(AbstractHttpConfigurer::disable)
                .formLogin(AbstractHttpConfigurer::disable)
                .logout(AbstractHttpConfigurer::disable)
                .requestCache(AbstractHttpConfigurer::disable)
                .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .exceptionHandling(e -> e.authenticationEntryPoint(entryPoint));
        if (!keyed) {
            http.authorizeHttpRequests(a -> a.anyRequest().permitAll());
            return http.build();
        }
        AuthenticationFilter apiKey = new AuthenticationFilter(apiKeyAuthentication, SecurityConfig::presentedKey);
        apiKey.setSuccessHandler((request, response, authentication) -> { }); // carry on down the chain
        apiKey.setFailureHandler(new AuthenticationEntryPointFailureHandler(entryPoint));
        http.addFilterBefore(apiKey, AnonymousAuthenticationFilter.class)
                .authorizeHttpRequests(a -> a
                        .requestMatchers(HttpMethod.OPTIONS).permitAll() // CORS preflights carry no credentials by design
                        .requestMatchers("/v2/health/**").permitAll()
                        .requestMatchers("/v1", "/v1/**", "/v2", "/v2/**", "/v3/api-docs", "/v3/api-docs/**", "/v3/api-docs.yaml",
                                "/swagger-ui.html", "/swagger-ui/**").authenticated()
                        .anyRequest().permitAll());
        return http.build();
    }

    /** The key a request presents, or null (then the request is anonymous, and refused where a key is needed). */
    private static UsernamePasswordAuthenticationToken presentedKey(HttpServletRequest request) {
        String given = request.getHeader("X-API-Key");
        String auth = request.getHeader("Authorization");
        if (given == null && auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            given = auth.substring(7).strip();
        }
        return given == null ? null : UsernamePasswordAuthenticationToken.unauthenticated("api-key", given);
    }

    private static void unauthorized(HttpServletRequest request, HttpServletResponse response, AuthenticationException e)
            throws IOException {
        response.setHeader("WWW-Authenticate", "Bearer realm=\"glow-serve\"");
        String detail = e instanceof BadCredentialsException ? e.getMessage() : REQUIRED;
        ErrorBodies.write(request, response, 401, "unauthorized", "Unauthorized", detail);
    }

    /** A request line the firewall refuses: 400 (405 for a method it does not serve) in the API's form. */
    @Bean
    RequestRejectedHandler requestRejected() {
        return (request, response, e) -> {
            response.setHeader("Connection", "close");
            if (!HTTP_METHODS.contains(request.getMethod())) {
                response.setHeader("Allow", "GET, HEAD, POST, OPTIONS");
                ErrorBodies.write(request, response, 405, "method-not-allowed", "Method Not Allowed",
                        "method " + printable(request.getMethod()) + " is not served");
                return;
            }
            ErrorBodies.write(request, response, 400, "malformed-request", "Bad Request",
                    "the request's path or headers are not in canonical form (no ';' parameters, encoded '/', '.', '%' or '\\', "
                            + "'//', '.' segments or control characters): send the plain path");
        };
    }

    private static String printable(String s) {
        return s == null ? "" : s.length() > 20 || !s.chars().allMatch(c -> c > 0x20 && c < 0x7f) ? "(unprintable)" : s;
    }
}
