package dev.glowserve.bench;

import dev.glowserve.runtime.KernelCheck;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * This CPU's float32 FMA peak as the JDK's Vector API reaches it: on the widest species, 12 independent
 * accumulators per thread (enough to hide an FMA's latency behind its throughput), one thread per core, all at
 * once. The benchmark's rows are fractions of it. The Vector API is an incubator module in Java 17, so the
 * benchmark measures it in a JVM of its own ({@link #measure}), started with that module; only that JVM loads
 * {@link FmaKernel}.
 */
public final class FmaPeak {

    private static final String MODULE = "jdk.incubator.vector";
    /** The command the child runs ({@code glow-serve fma-peak} from the jar). */
    public static final String COMMAND = "fma-peak";

    private FmaPeak() {}

    /** The child's side: measures one second on every core and prints "G GFLOP/s on N threads, B-bit vectors". */
    public static void main(String[] args) {
        int threads = Runtime.getRuntime().availableProcessors();
        try {
            FmaKernel.run(threads, 0.5); // the JIT compiles the kernel to the species' FMA instructions
            System.out.printf(Locale.ROOT, "%.1f GFLOP/s on %d threads, %d-bit vectors%n", FmaKernel.run(threads, 1.0),
                    threads, FmaKernel.vectorBits());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (NoClassDefFoundError e) {
            System.out.println("the FMA peak needs the JVM option --add-modules " + MODULE);
            System.exit(1);
        }
    }

    /**
     * The peak measured now in a JVM started with the Vector API's module (this one runs without it), by the same
     * jar or class path: GFLOP/s, or NaN with the reason on stderr where that JVM cannot run.
     */
    public static double measure() {
        List<String> command = KernelCheck.childCommand(List.of("--add-modules", MODULE), COMMAND, FmaPeak.class.getName());
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
