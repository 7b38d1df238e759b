package dev.glowserve.runtime;

import dev.glowserve.cli.GlowServe;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * ATen's dispatch level is read from the loaded libtorch: {@code ATEN_CPU_CAPABILITY} set before the engine starts
 * changes what it says, so a capped run can show the cap took effect ({@code glow-serve engine} prints it).
 */
class AtenCapabilityTest {

    @Test
    void theCapabilityFollowsTheVariable() throws Exception {
        // x86-64 hosts run here: the native level is AVX2 or AVX-512, and "default" means no vector kernels at all
        assertThat(engineLine(Map.of())).isIn("ATen kernels: AVX2", "ATen kernels: AVX512");
        assertThat(engineLine(Map.of("ATEN_CPU_CAPABILITY", "default"))).isEqualTo("ATen kernels: NO AVX");
        assertThat(engineLine(Map.of("ATEN_CPU_CAPABILITY", "avx2"))).isEqualTo("ATen kernels: AVX2");
    }

    private static String engineLine(Map<String, String> env) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder builder = new ProcessBuilder(java, "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                GlowServe.class.getName(), "engine").redirectErrorStream(true);
        builder.environment().putAll(env);
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out.lines().filter(l -> l.startsWith("ATen kernels:")).findFirst().orElse(out);
    }
}
