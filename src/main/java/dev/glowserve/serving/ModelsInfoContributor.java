package dev.glowserve.serving;

import dev.glowserve.runtime.Devices;
import dev.glowserve.runtime.KernelCheck;
import org.springframework.boot.actuate.info.Info;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.stereotype.Component;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@code /actuator/info}: the served models (version, dataset, which inference pass runs them) and the device. */
@Component
public class ModelsInfoContributor implements InfoContributor {

    private final ModelRegistry registry;

    public ModelsInfoContributor(ModelRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void contribute(Info.Builder builder) {
        Map<String, Object> models = new LinkedHashMap<>();
        for (ServedModel.View e : registry.views()) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (e.available()) {
                var manifest = e.manifest();
                m.put("version", e.version());
                m.put("dataset", manifest.dataset());
                m.put("inference", e.inferencePass());
                m.put("routes", e.routes());
                if (manifest.testBitsPerDim() != null) {
                    m.put("test_bits_per_dim", manifest.testBitsPerDim());
                }
            } else {
                m.put("status", "unavailable");
            }
            models.put(e.name(), m);
        }
        builder.withDetail("models", models);
        builder.withDetail("device", Devices.describe(registry.device()));
        builder.withDetail("kernels", KernelCheck.verdict());
    }
}
