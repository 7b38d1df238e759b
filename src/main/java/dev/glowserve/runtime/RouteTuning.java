package dev.glowserve.runtime;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
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
import java.util.List;
import java.util.Locale;

/**
 * A model's inference pass on routes measured on this host ({@code glow.inference.tuning}): {@code auto} tunes at load
 * ({@link RouteTuner}) unless a tuning for the same architecture, precision, device, cores, CPU, libtorch, kernel caps
 * and script is cached (in the engine's cache folder, or read-only beside the image's natives); {@code off} keeps the
 * untuned table; anything else is a file a tuning wrote. The key holds the architecture, not the weights: kernel
 * speed depends on shapes only, so every version of a model reuses its tuning.
 *
 * <p>Over 300 lines because the tuning's key, its cache file and the child JVM that measures it are one life cycle
 * (start early, finish at load, cache, reuse).
 */
public final class RouteTuning {

    private static final Logger LOG = LoggerFactory.getLogger(RouteTuning.class);

    /** The pass and a line saying where its routes came from. */
    public record Opened(InferencePass pass, String routes) {}

    /** A tuning as it is cached: what it was measured for, and what it chose. */
    public record Cached(String key, String measuredFor, RouteTuner.Result result) {}

    private RouteTuning() {}

    /** The pass {@code settings} ask for on {@code glow}, tuning its routes where they say so. */
    public static Opened open(Glow glow, InferenceSettings settings) {
        try (Pending pending = prepare(glow.config(), glow.parameters().dataType(), glow.manager().getDevice(), settings)) {
            return open(glow, pending);
        }
    }

    /**
     * Where a model's routes come from, settled before the model is built ({@link #prepare}): a tuning file, a cached
     * tuning, or a tuning child already starting. Closing it stops a child that was never asked to time.
     */
    public static final class Pending implements AutoCloseable {
        private final InferenceSettings settings;
        private final RouteTuner.Result found;
        private final String origin;
        private final String key;
        private final String description;
        private final Process child;
        private final Path out;
        /** Tuned in this process at open: on a GPU, where no oneDNN kernels or thread teams are at stake. */
        private final boolean here;

        private Pending(InferenceSettings settings, RouteTuner.Result found, String origin, String key, String description,
                        Process child, Path out) {
            this(settings, found, origin, key, description, child, out, false);
        }

        private Pending(InferenceSettings settings, RouteTuner.Result found, String origin, String key, String description,
                        Process child, Path out, boolean here) {
            this.settings = settings;
            this.found = found;
            this.origin = origin;
            this.key = key;
            this.description = description;
            this.child = child;
            this.out = out;
            this.here = here;
        }

        @Override
        public void close() {
            if (child != null && child.isAlive()) {
                try {
                    child.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException e) {
                    // a temporary file left behind
                }
            }
        }
    }

    /**
     * Settles where the routes of a model of {@code config} come from before it is built: a named file is read and
     * checked now; under {@code auto} a cached tuning is looked up, and if there is none on a CPU, the tuning child is
     * started at once, so that its JVM and libtorch start while this process reads the weights. The child times
     * nothing until {@link #open} tells it to, so the load does not disturb its clocks.
     */
    public static Pending prepare(GlowConfig config, DataType dataType, Device device, InferenceSettings settings) {
        if (!settings.tuned()) {
            return new Pending(settings, null, null, null, null, null, null);
        }
        if (!InferenceSettings.AUTO.equals(settings.tuning())) {
            Path file = Path.of(settings.tuning());
            return new Pending(settings, readFile(file, config, dataType, device), "from " + file.getFileName(), null, null,
                    null, null);
        }
        int threads = Runtime.getRuntime().availableProcessors();
        String description = describe(config, dataType, device, threads, settings.prepack());
        String key = KernelCheck.shortDigest(description);
        Path name = Path.of("routes-" + key + ".json");
        for (Path dir : KernelCheck.cacheDirs()) {
            RouteTuner.Result cached = readCached(dir.resolve(name), key, config, dataType, device);
            if (cached != null) {
                return new Pending(settings, cached, "cached tuning", key, description, null, null);
            }
        }
        if (!Device.Type.CPU.equals(device.getDeviceType())) {
            return new Pending(settings, null, null, key, description, null, null, true);
        }
        Path out = null;
        try {
            out = Files.createTempFile("glow-routes", ".json");
            List<String> command = KernelCheck.childCommand(List.of("-Xmx512m", "-XX:TieredStopAtLevel=1",
                    "-Dai.djl.pytorch.num_threads=" + threads), "tune-routes", RouteTuning.class.getName());
            command.addAll(List.of(new String(ModelArtifact.JSON.writeValueAsBytes(config), StandardCharsets.UTF_8),
                    dataType.name(), Integer.toString(threads), Boolean.toString(settings.prepack()), out.toString()));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(KernelCheck.dispatchEnvironment());
            return new Pending(settings, null, null, key, description, builder.start(), out);
        } catch (IOException | RuntimeException e) {
            LOG.warn("route tuning could not start ({}); the untuned routes run", e.toString());
            return new Pending(settings, null, null, key, description, null, out);
        }
    }

    /** The pass on {@code glow} with the routes {@code pending} settled, tuning them now where it started a child. */
    public static Opened open(Glow glow, Pending pending) {
        InferenceSettings settings = pending.settings;
        if (!settings.tuned()) {
            InferencePass pass = InferencePass.open(glow, settings);
            return new Opened(pass, pass.name() + (settings.script() ? ", untuned routes" : ""));
        }
        RouteTuner.Result result = pending.found;
        String origin = pending.origin;
        if (result == null) {
            int threads = Runtime.getRuntime().availableProcessors();
            // on a GPU there are no oneDNN routes: the tuner times the script against the eager layers
            result = pending.here ? RouteTuner.tune(glow, threads, false, InferencePass.scriptSource())
                    : pending.child != null ? finish(pending) : null;
            if (result == null) {
                InferencePass pass = InferencePass.open(glow, settings);
                return new Opened(pass, pass.name() + ", untuned routes (the tuning could not run)");
            }
            origin = String.format(Locale.ROOT, "tuned in %.1f s", result.tookMillis() / 1e3);
            LOG.info("routes tuned in {} ms; ms per encode at {}; score, times, candidate:{}", result.tookMillis(),
                    result.classes(), RouteTuner.table(result).stream().map(l -> System.lineSeparator() + "  " + l)
                            .reduce("", String::concat));
            write(KernelCheck.cacheDirs().get(0).resolve("routes-" + pending.key + ".json"),
                    new Cached(pending.key, pending.description, result));
        }
        InferencePass pass = InferencePass.open(glow, result.script(), result.routes());
        String routes = result.describe() + ", " + origin;
        LOG.info("inference: {}", routes);
        return new Opened(pass, routes);
    }

    /**
     * Tells the child to time and reads what it chose; null, with a warning, if it failed. The child tunes a model of
     * the same architecture with random weights (kernel speed depends on shapes only) in a JVM of its own: the
     * candidates' kernels, memory and thread teams stay out of this process, where in-process tuning left some later
     * passes 3× slower on a 2-core host. One child times at a time.
     */
    private static RouteTuner.Result finish(Pending pending) {
        synchronized (RouteTuning.class) {
            try {
                try (var go = pending.child.getOutputStream()) {
                    go.write('\n');
                }
                String output;
                try (var in = pending.child.getInputStream()) {
                    output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                if (!pending.child.waitFor(300, java.util.concurrent.TimeUnit.SECONDS) || pending.child.exitValue() != 0
                        || Files.size(pending.out) == 0) {
                    LOG.warn("route tuning failed ({}); the untuned routes run",
                            output.lines().reduce((a, b) -> b).orElse("no output"));
                    return null;
                }
                return ModelArtifact.JSON.readValue(read(pending.out), RouteTuner.Result.class);
            } catch (IOException | RuntimeException e) {
                LOG.warn("route tuning failed ({}); the untuned routes run", e.toString());
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
    }

    /**
     * The child's side: config JSON, data type, threads, prepack, output file. It starts libtorch and builds the
     * model, then waits for a line on its input before timing (none: the parent is gone or gave up, and it exits).
     */
    public static void main(String[] args) {
        try {
            tuneAndWrite(args);
        } catch (IOException | RuntimeException e) {
            System.out.println("route tuning failed: " + e);
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
        // libtorch's teardown takes a quarter second the loading process would wait for; the file is written
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void tuneAndWrite(String[] args) throws IOException {
        System.setProperty("ai.djl.offline", "true");
        GlowConfig config = ModelArtifact.JSON.readValue(args[0], GlowConfig.class);
        DataType dataType = DataType.valueOf(args[1]);
        TorchWarnings.quiet();
        try (Glow glow = Glow.create(config, ai.djl.ndarray.NDManager.newBaseManager(), dataType, 1)) {
            glow.markInitialized();
            if (System.in.read() < 0) {
                throw new IOException("no go from the loading process");
            }
            RouteTuner.Result result = RouteTuner.tune(glow, Integer.parseInt(args[2]), Boolean.parseBoolean(args[3]),
                    InferencePass.scriptSource());
            Files.write(Path.of(args[4]), ModelArtifact.JSON.writeValueAsBytes(result));
        }
    }

    /** What a tuning holds for: the architecture, precision, device, cores, CPU, libtorch, caps and script. */
    static String describe(GlowConfig config, DataType dataType, Device device, int threads, boolean prepack) {
        StringBuilder b = new StringBuilder();
        b.append(config).append('\n').append(dataType).append(' ').append(device).append(" threads=").append(threads).append(" prepack=").append(prepack)
                .append('\n').append("host=").append(KernelCheck.hostKey());
        for (String v : KernelCheck.CAP_VARIABLES) {
            b.append(' ').append(v).append('=').append(System.getenv(v));
        }
        b.append(" kernels=").append(KernelCheck.verdict().replace(" (cached)", ""));
        b.append(" script=").append(KernelCheck.shortDigest(InferencePass.scriptSource()));
        return b.toString();
    }

    private static RouteTuner.Result readCached(Path file, String key, GlowConfig config, DataType dataType, Device device) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            Cached cached = ModelArtifact.JSON.readValue(read(file), Cached.class);
            if (!key.equals(cached.key()) || !fits(cached.result(), config, dataType, device)) {
                return null;
            }
            return cached.result();
        } catch (RuntimeException | IOException e) {
            LOG.info("cached routes {} unreadable ({}): tuning again", file.getFileName(), e.getClass().getSimpleName());
            return null;
        }
    }

    /** A tuning file named by {@code glow.inference.tuning}: it must be one for this model's architecture. */
    static RouteTuner.Result readFile(Path file, GlowConfig config, DataType dataType, Device device) {
        Cached cached;
        try {
            cached = ModelArtifact.JSON.readValue(read(file), Cached.class);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("glow.inference.tuning: " + file.getFileName() + " is not a tuning file ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (cached == null || cached.result() == null || cached.measuredFor() == null
                || !cached.measuredFor().startsWith(config + "\n") || !fits(cached.result(), config, dataType, device)) {
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
    private static boolean fits(RouteTuner.Result result, GlowConfig config, DataType dataType, Device device) {
        InferenceRoutes untuned = InferenceRoutes.of(config, result.routes().prepacked());
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
        return !result.routes().prepacked() || (Device.Type.CPU.equals(device.getDeviceType()) && dataType == DataType.FLOAT32);
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
