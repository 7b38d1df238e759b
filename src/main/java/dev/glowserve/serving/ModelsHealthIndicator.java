package dev.glowserve.serving;

import dev.glowserve.runtime.Devices;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.stereotype.Component;

import java.util.LinkedHashMap;
import java.util.Map;

/** Health component {@code models}: UP when the default model is loaded and warmed up; details per model. */
@Component("models")
public class ModelsHealthIndicator extends AbstractHealthIndicator {

    private final ModelRegistry registry;

    public ModelsHealthIndicator(ModelRegistry registry) {
        super("models health check failed");
        this.registry = registry;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        ServedModel def = registry.defaultModel();
        // with explicit model control and nothing loaded yet the service is ready for load requests
        boolean accepting = def == null || def.accepting();
        builder.status(accepting ? "UP" : "DOWN");
        builder.withDetail("device", Devices.describe(registry.device()));
        if (def != null) {
            builder.withDetail("default", def.name());
        }
        for (ServedModel e : registry.models()) {
            Map<String, Object> d = new LinkedHashMap<>();
            if (e.available()) {
                d.put("status", e.accepting() ? "available" : "draining");
                d.put("version", e.version());
                d.put("queued", e.queued());
            } else {
                d.put("status", "unavailable");
                d.put("error", e.error());
            }
            builder.withDetail(e.name(), d);
        }
    }
}
