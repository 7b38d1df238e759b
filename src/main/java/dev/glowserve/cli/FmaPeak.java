package dev.glowserve.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * This CPU's float32 FMA peak as the JDK's Vector API reaches it: on the widest species, 12 independent
 * accumulators per thread (enough to hide an FMA's latency behind its throughput), one thread per core, all at
 * once. The benchmark's rows are fractions of it. The Vector API is an incubator module in Java 17, so the
 * benchmark measures it in a JVM of its own ({@link #measure}), started with that module; only that JVM loads
 * {@link FmaKernel}.
 */
@Command(name = "fma-peak", hidden = true, description = "Print this CPU's float32 FMA peak in GFLOP/s (Vector API).")
public final class FmaPeak implements Callable<Integer> {

    private static final String MODULE = "jdk.incubator.vector";

    @Option(names = "--seconds", description = "Seconds per thread. Default: ${DEFAULT-VALUE}")
    double seconds = 1.0;

    @Override
    public Integer call() throws InterruptedException {
        int threads = Runtime.getRuntime().availableProcessors();
        FmaKernel.run(threads, 0.5); // the JIT compiles the kernel to the species' FMA instructions
        System.out.printf(Locale.ROOT, "%.1f GFLOP/s on %d threads, %d-bit vectors%n", FmaKernel.run(threads, seconds), threads,
                FmaKernel.vectorBits());
        return 0;
    }

    /**
     * The peak measured now in a JVM started with the Vector API's module (this one runs without it), by the same
     * jar or class path: GFLOP/s, or NaN with the reason on stderr where that JVM cannot run.
     */
    static double measure() {
        String launcher = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String classPath = System.getProperty("java.class.path");
        List<String> command = new ArrayList<>(List.of(launcher, "--add-modules", MODULE));
        if (classPath.endsWith(".jar") && !classPath.contains(java.io.File.pathSeparator)) {
            command.addAll(List.of("-jar", classPath));
        } else {
            command.addAll(List.of("-cp", classPath, GlowServe.class.getName()));
        }
        command.add("fma-peak");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String peak = null;
            StringBuilder all = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    all.append(line).append('\n');
                    if (line.contains(" GFLOP/s on ")) {
                        peak = line;
                    }
                }
            }
            if (p.waitFor() != 0 || peak == null) {
                System.err.println("FMA peak not measured: " + all.toString().strip());
                return Double.NaN;
            }
            return Double.parseDouble(peak.substring(0, peak.indexOf(' ')));
        } catch (IOException e) {
            System.err.println("FMA peak not measured: " + e.getMessage());
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
    }
}
