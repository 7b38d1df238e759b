package dev.glowserve.cli;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A normal start as a user sees it, in a process of its own (libtorch writes its warnings to the process's stderr, which
 * no in-process capture sees): the shipped model loads and warms up, and not one line is a warning.
 */
class StartupOutputTest {

    @Test
    void aNormalStartPrintsNoWarning() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
                GlowServe.class.getName(), "serve", "--server.port=0", "--management.server.port=0")
                .redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            for (String line; System.nanoTime() < deadline && (line = out.readLine()) != null; ) {
                lines.add(line);
                if (line.contains("Started GlowServe")) {
                    break;
                }
            }
        } finally {
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(lines).as("the start-up output").anyMatch(l -> l.contains("Started GlowServe"));
        assertThat(lines).as("the start-up output").anyMatch(l -> l.contains("model 'fashion-mnist'") && l.contains("ready"));
        assertThat(lines).as("no warnings at a normal start").noneMatch(l -> l.contains(" WARN ") || l.startsWith("[W")
                || l.contains("Warning:"));
    }
}
