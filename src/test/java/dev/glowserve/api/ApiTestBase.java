package dev.glowserve.api;

import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Runs the real application on a random port with two good models (tiny, conditional; peer,
 * unconditional from the PyTorch fixture) and one that cannot load.
 */
abstract class ApiTestBase extends HttpTestBase {

    @DynamicPropertySource
    static void models(DynamicPropertyRegistry r) {
        r.add("glow.models[0].path", TestModels::tiny);
        r.add("glow.models[1].path", TestModels::peer);
        r.add("glow.models[1].name", () -> "peer");
        r.add("glow.models[2].path", TestModels::broken);
        r.add("glow.models[2].name", () -> "broken");
        r.add("glow.limits.max-request-size", () -> "1MB");
        r.add("glow.batching.workers", () -> "2"); // what auto picks when serving on 2 cores
    }
}
