package dev.glowserve.inference;

import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.InferencePass;
import dev.glowserve.flow.InferenceRoutes;
import dev.glowserve.flow.InferenceSettings;
import dev.glowserve.flow.RouteTuner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * A model's inference pass on routes measured on this host ({@code glow.inference.tuning}): {@code auto} tunes at load
 * ({@link RouteTuner}) unless a tuning for the same architecture, precision, device, cores, CPU, libtorch, kernel caps
 * and script is cached (in the engine's cache folder, or read-only beside the image's natives); {@code off} keeps the
 * untuned table; anything else is a file a tuning wrote. The key holds the architecture, not the weights: kernel
 * speed depends on shapes only, so every version of a model reuses its tuning.
 */
public final class RouteTuning {

    private static final Logger LOG = LoggerFactory.getLogger(RouteTuning.class);
    /** The cap variables that change which kernels run, read when libtorch starts. */
    private static final List<String> DISPATCH = List.of(KernelCheck.MAX_ISA, "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY");

    /** The pass and a line saying where its routes came from. */
    public record Opened(InferencePass pass, String routes) {}

    /** A tuning as it is cached: what it was measured for, and what it chose. */
    public record Cached(String key, String measuredFor, RouteTuner.Result result) {}

    private RouteTuning() {}

    /** The pass {@code settings} ask for on {@code glow}, tuning its routes where they say so. */
    public static Opened open(Glow glow, InferenceSettings settings) {
        if (!settings.tuned()) {
            InferencePass pass = InferencePass.open(glow, settings);
            return new Opened(pass, pass.name() + (settings.script() ? ", untuned routes" : ""));
        }
        RouteTuner.Result result;
        String origin;
        if (!InferenceSettings.AUTO.equals(settings.tuning())) {
            Path file = Path.of(settings.tuning());
            result = readFile(file, glow);
            origin = "from " + file.getFileName();
        } else {
            int threads = Runtime.getRuntime().availableProcessors();
            String description = describe(glow, threads, settings.prepack());
            String key = digest(description);
            Path name = Path.of("routes-" + key + ".json");
            result = null;
            for (Path dir : KernelCheck.cacheDirs()) {
                result = readCached(dir.resolve(name), key, glow);
                if (result != null) {
                    break;
                }
            }
            if (result != null) {
                origin = "cached tuning";
            } else {
                result = tuneInChild(glow, threads, settings.prepack());
                if (result == null) {
                    InferencePass pass = InferencePass.open(glow, settings);
                    return new Opened(pass, pass.name() + ", untuned routes (the tuning could not run)");
                }
                origin = String.format(Locale.ROOT, "tuned in %.1f s", result.tookMillis() / 1e3);
                LOG.info("routes tuned in {} ms; ms per encode at {}; score, times, candidate:{}", result.tookMillis(),
                        result.classes(), RouteTuner.table(result).stream().map(l -> System.lineSeparator() + "  " + l)
                                .reduce("", String::concat));
                write(KernelCheck.cacheDirs().get(0).resolve(name), new Cached(key, description, result));
            }
        }
        InferencePass pass = InferencePass.open(glow, result.script(), result.routes());
        String routes = result.describe() + ", " + origin;
        LOG.info("inference: {}", routes);
        return new Opened(pass, routes);
    }

    /**
     * Tunes in a child JVM on a model of the same architecture with random weights (kernel speed depends on shapes
     * only): the candidates' kernels, memory and thread teams stay out of this process, where in-process tuning left
     * some later passes 3× slower on a 2-core host. Null, with a warning, if the child fails.
     */
    private static RouteTuner.Result tuneInChild(Glow glow, int threads, boolean prepack) {
        if (!ai.djl.Device.Type.CPU.equals(glow.manager().getDevice().getDeviceType())) {
            // on a GPU there are no oneDNN routes: the tuner times the script against the eager layers in-process
            return RouteTuner.tune(glow, threads, false, InferencePass.scriptSource());
        }
        Path out = null;
        try {
            out = Files.createTempFile("glow-routes", ".json");
            List<String> command = KernelCheck.childCommand(List.of("-Xmx512m", "-Dai.djl.pytorch.num_threads=" + threads),
                    "tune-routes", RouteTuning.class.getName());
            command.addAll(List.of(new String(ModelArtifact.JSON.writeValueAsBytes(glow.config()), StandardCharsets.UTF_8),
                    glow.parameters().dataType().name(), Integer.toString(threads), Boolean.toString(prepack), out.toString()));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(KernelCheck.dispatchEnvironment());
            Process child = builder.start();
            String output;
            try (var in = child.getInputStream()) {
                output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (!child.waitFor(300, java.util.concurrent.TimeUnit.SECONDS) || child.exitValue() != 0 || Files.size(out) == 0) {
                child.destroyForcibly();
                LOG.warn("route tuning failed ({}); the untuned routes run", output.lines().reduce((a, b) -> b).orElse("no output"));
                return null;
            }
            return ModelArtifact.JSON.readValue(read(out), RouteTuner.Result.class);
        } catch (IOException | RuntimeException e) {
            LOG.warn("route tuning failed ({}); the untuned routes run", e.toString());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException e) {
                    // a temporary file left behind
                }
            }
        }
    }

    /** The child's side: config JSON, data type, threads, prepack, output file. */
    public static void main(String[] args) {
        try {
            tuneAndWrite(args);
        } catch (IOException | RuntimeException e) {
            System.out.println("route tuning failed: " + e);
            System.exit(1);
        }
        System.exit(0);
    }

    private static void tuneAndWrite(String[] args) throws IOException {
        System.setProperty("ai.djl.offline", "true");
        dev.glowserve.flow.GlowConfig config = ModelArtifact.JSON.readValue(args[0], dev.glowserve.flow.GlowConfig.class);
        ai.djl.ndarray.types.DataType dataType = ai.djl.ndarray.types.DataType.valueOf(args[1]);
        try (Glow glow = Glow.create(config, ai.djl.ndarray.NDManager.newBaseManager(), dataType, 1)) {
            glow.markInitialized();
            RouteTuner.Result result = RouteTuner.tune(glow, Integer.parseInt(args[2]), Boolean.parseBoolean(args[3]),
                    InferencePass.scriptSource());
            Files.write(Path.of(args[4]), ModelArtifact.JSON.writeValueAsBytes(result));
        }
    }

    /** What a tuning holds for: the architecture, precision, device, cores, CPU, libtorch, caps and script. */
    static String describe(Glow glow, int threads, boolean prepack) {
        StringBuilder b = new StringBuilder();
        b.append(glow.config()).append('\n').append(glow.parameters().dataType()).append(' ')
                .append(glow.manager().getDevice()).append(" threads=").append(threads).append(" prepack=").append(prepack)
                .append('\n').append("host=").append(KernelCheck.hostKey());
        for (String v : DISPATCH) {
            b.append(' ').append(v).append('=').append(System.getenv(v));
        }
        b.append(" kernels=").append(KernelCheck.verdict().replace(" (cached)", ""));
        b.append(" script=").append(digest(InferencePass.scriptSource()));
        return b.toString();
    }

    private static String digest(String text) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RouteTuner.Result readCached(Path file, String key, Glow glow) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            Cached cached = ModelArtifact.JSON.readValue(read(file), Cached.class);
            if (!key.equals(cached.key()) || !fits(cached.result(), glow)) {
                return null;
            }
            return cached.result();
        } catch (RuntimeException | IOException e) {
            LOG.info("cached routes {} unreadable ({}): tuning again", file.getFileName(), e.getClass().getSimpleName());
            return null;
        }
    }

    /** A tuning file named by {@code glow.inference.tuning}: it must be one for this model's architecture. */
    static RouteTuner.Result readFile(Path file, Glow glow) {
        Cached cached;
        try {
            cached = ModelArtifact.JSON.readValue(read(file), Cached.class);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("glow.inference.tuning: " + file.getFileName() + " is not a tuning file ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (cached == null || cached.result() == null || cached.measuredFor() == null
                || !cached.measuredFor().startsWith(glow.config() + "\n") || !fits(cached.result(), glow)) {
            throw new IllegalArgumentException("glow.inference.tuning: " + file.getFileName()
                    + " was tuned for another architecture or device");
        }
        return cached.result();
    }

    /** Tuning files are small: anything larger is not one. */
    private static byte[] read(Path file) throws IOException {
        if (Files.size(file) > 1 << 20) {
            throw new IOException("larger than a tuning file");
        }
        return Files.readAllBytes(file);
    }

    /** The table's levels and fixed ZeroConv routes are this model's, and it packs only where packing runs. */
    private static boolean fits(RouteTuner.Result result, Glow glow) {
        InferenceRoutes untuned = InferenceRoutes.of(glow.config(), result.routes().prepacked());
        if (result.routes().levels().size() != untuned.levels().size()) {
            return false;
        }
        for (int l = 0; l < untuned.levels().size(); l++) {
            InferenceRoutes.Level a = result.routes().levels().get(l);
            InferenceRoutes.Level b = untuned.levels().get(l);
            if (a.coupling() != b.coupling() || a.prior() != b.prior()) {
                return false;
            }
        }
        return !result.routes().prepacked() || (ai.djl.Device.Type.CPU.equals(glow.manager().getDevice().getDeviceType())
                && glow.parameters().dataType() == ai.djl.ndarray.types.DataType.FLOAT32);
    }

    private static void write(Path file, Cached cached) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), "routes", ".tmp");
            Files.write(tmp, ModelArtifact.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(cached));
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            LOG.info("tuned routes not cached ({}): the next load tunes again", e.getMessage());
        }
    }
}
