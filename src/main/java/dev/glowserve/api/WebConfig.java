package dev.glowserve.api;

import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.config.annotation.CorsRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/** CORS for {@code /v1/**}: closed unless {@code glow.security.cors-allowed-origins} lists origins. */
@Configuration
public class WebConfig implements WebMvcConfigurer {

    private final SecurityProperties security;

    public WebConfig(SecurityProperties security) {
        this.security = security;
    }

    @Override
    public void addCorsMappings(CorsRegistry registry) {
        if (security.corsAllowedOrigins().isEmpty()) {
            return;
        }
        registry.addMapping("/v1/**")
                .allowedOrigins(security.corsAllowedOrigins().toArray(new String[0]))
                .allowedMethods("GET", "POST")
                .allowedHeaders("Content-Type", "Accept", "X-API-Key", "Authorization")
                .exposedHeaders("X-Seed", "Retry-After")
                .maxAge(3600);
    }
}
