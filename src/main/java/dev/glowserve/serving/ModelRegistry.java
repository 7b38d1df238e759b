package dev.glowserve.serving;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.runtime.Devices;
import dev.glowserve.runtime.KernelCheck;
import dev.glowserve.runtime.ModelLoader;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.runtime.NativeAllocator;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The served models by name, each a {@link ServedModel}: the configured ones ({@code glow.models}) loaded and warmed
 * up (one forward and one reverse pass each) while the application starts, so readiness turns UP only once they can
 * answer; {@link RepositoryControl} adds the repository's and swaps or removes versions while the service runs. A
 * request holds a {@link ServedModel.Lease} on the version it started with; a version that is replaced or removed is
 * retired. With one model configured (and no repository) a model that fails to load stops start-up; with several it is
 * marked unavailable (503) and the readiness details say why.
 */
@Component
public class ModelRegistry implements SmartLifecycle, DisposableBean {

    private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);
    private static final String QUEUE_DEPTH = "glow.queue.depth";

    /** No model of that name is served (HTTP 404). */
    public static final class UnknownModel extends RuntimeException {
        public UnknownModel(String name, List<String> known) {
            this("no model named '" + name + "'; " + (known.isEmpty() ? "no model is served" : "models: " + String.join(", ", known)));
        }

        public UnknownModel(String message) {
            super(message, null, false, false);
        }
    }

    /** The model is configured but could not be loaded (HTTP 503). */
    public static final class ModelUnavailable extends RuntimeException {
        public ModelUnavailable(String name, String reason) {
            super("model '" + name + "' is unavailable: " + reason);
        }
    }

    /** Start-up failure with the one line an operator needs. */
    public static final class ModelLoadException extends RuntimeException {
        public ModelLoadException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final GlowProperties properties;
    private final MeterRegistry meters;
    private final Device device;
    private final BatchScheduler.Settings settings;
    /** Served models in the order they were first loaded; replaced whole, read without locks. */
    private volatile Map<String, ServedModel> served = Map.of();
    private volatile boolean running;

    public ModelRegistry(GlowProperties properties, MeterRegistry meters) {
        this.properties = properties;
        this.meters = meters;
        // before the first tensor: which oneDNN kernels are right here, how the C allocator keeps freed memory
        LOG.info("kernel check: {}", KernelCheck.ensure());
        NativeAllocator.tune(properties.inference().mallocTuning());
        this.device = Devices.select(properties.device());
        boolean repository = properties.modelRepository() != null && !properties.modelRepository().isBlank();
        if (properties.models().isEmpty() && !repository) {
            throw new IllegalStateException("no models: set glow.models[0].path or glow.model-repository");
        }
        LOG.info("glow-serve device: {} (glow.device={}, {} engine {}, {} GPU(s) visible)", Devices.describe(device),
                properties.device(), Engine.getInstance().getEngineName(), Engine.getInstance().getVersion(),
                Engine.getInstance().getGpuCount());
        GlowProperties.Batching b = properties.batching();
        int workers = b.workersFor(device.isGpu());
        this.settings = new BatchScheduler.Settings(b.maxBatchSize(), b.maxQueueDelay(), b.queueCapacity(), b.requestTimeout(), workers,
                b.priorityLevels(), b.defaultPriority());
        LOG.info("batching: up to {} images per pass, {} ms queue delay, {} worker(s) per model (glow.batching.workers={})",
                b.maxBatchSize(), b.maxQueueDelay().toMillis(), workers, b.workers());
        Map<String, ServedModel> loaded = new LinkedHashMap<>();
        List<GlowProperties.ModelSpec> specs = properties.models();
        for (int i = 0; i < specs.size(); i++) {
            GlowProperties.ModelSpec spec = specs.get(i);
            String fallbackName = spec.name() != null ? spec.name() : "model-" + i;
            try {
                ServedModel m = open(spec.path(), "glow.models[" + i + "]", spec.name(), null);
                if (loaded.containsKey(m.name())) {
                    m.close();
                    throw new IllegalArgumentException("two models are named '" + m.name() + "'; set glow.models[" + i + "].name");
                }
                loaded.put(m.name(), m);
                policies.put(m.name(), spec.oodPolicy());
            } catch (RuntimeException e) {
                if (specs.size() == 1 && !repository) {
                    throw new ModelLoadException("model at " + spec.path() + " failed to load: " + e.getMessage(), e);
                }
                LOG.error("model '{}' at {} is unavailable: {}", fallbackName, spec.path(), e.getMessage());
                loaded.put(fallbackName, ServedModel.unavailable(fallbackName, null, spec.path(), e.getMessage()));
            }
        }
        this.served = java.util.Collections.unmodifiableMap(loaded);
        loaded.values().forEach(this::gauge);
    }

    /**
     * The queue-depth gauge of a served version, registered once per name and version: it reads whichever scheduler
     * serves that version now, so reloading a version keeps one gauge, and retiring it removes the gauge.
     */
    private void gauge(ServedModel e) {
        if (e.available() && meters.find(QUEUE_DEPTH).tags("model", e.name(), "version", e.version()).gauge() == null) {
            String name = e.name(), version = e.version();
            Gauge.builder(QUEUE_DEPTH, this, r -> r.queued(name, version)).tag("model", name).tag("version", version)
                    .description("Requests waiting for the model").register(meters);
        }
    }

    private double queued(String name, String version) {
        ServedModel s = served.get(name);
        return s != null && s.available() && version.equals(s.version()) ? s.queued() : Double.NaN;
    }

    /**
     * Loads and warms up one model: its scheduler is running when this returns. Its files are named by {@code label}
     * in messages (a repository's {@code name/version}, a configured model's {@code glow.models[i]}), which reach
     * clients through the index and load answers: never a server path.
     */
    ServedModel open(String path, String label, String name, String version) {
        long t0 = System.nanoTime();
        ModelRunner runner = ModelLoader.open(ArtifactSource.parse(path, label), device, properties.inference().settings(),
                properties.limits().maxModelBytes().toBytes(), b -> b.chunkSize(64).name(name).version(version));
        try {
            warmUp(runner);
            BatchScheduler scheduler = new BatchScheduler(runner, settings, meters);
            LOG.info("model '{}' v{} from {} ready on {} in {} ms", runner.name(), runner.version(), path,
                    Devices.describe(device), (System.nanoTime() - t0) / 1_000_000);
            return ServedModel.serving(path, runner, scheduler);
        } catch (RuntimeException e) {
            runner.close();
            throw e;
        }
    }

    /** One forward and one reverse pass, so the first request pays no first-call costs. */
    private static void warmUp(ModelRunner runner) {
        byte[] image = new byte[runner.imageSize()];
        new Random(0).nextBytes(image);
        List<ModelRunner.Encoded> enc = runner.encode(List.<byte[]>of(image), null);
        int[] labels = runner.config().conditional() ? new int[] {enc.get(0).score().label()} : null;
        runner.decode(List.<float[][]>of(enc.get(0).eps()), labels);
    }

    public Device device() {
        return device;
    }

    /** Every served model, in the order they were first loaded. */
    public List<ServedModel> models() {
        return List.copyOf(served.values());
    }

    private final List<java.util.function.BiConsumer<String, String>> retireListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** {@code listener} hears the name and version of each version retired (and not served again), to free what it kept. */
    public void onRetire(java.util.function.BiConsumer<String, String> listener) {
        retireListeners.add(listener);
    }

    /** Each configured model's ood-policy by served name (glow.models[i].ood-policy); others are off. */
    private final Map<String, GlowProperties.OodPolicy> policies = new java.util.concurrent.ConcurrentHashMap<>();

    /** What model {@code name} does with inputs unlike its calibration. */
    public GlowProperties.OodPolicy oodPolicy(String name) {
        return policies.getOrDefault(name, GlowProperties.OodPolicy.OFF);
    }

    /** What the API shows of every served model. */
    public List<ServedModel.View> views() {
        return served.values().stream().map(ServedModel::view).toList();
    }

    /** What the API shows of the model serving {@code name} now (404 if none). */
    public ServedModel.View view(String name) {
        return model(name).view();
    }

    /** The first model, which readiness waits for; null while none is loaded. */
    public ServedModel defaultModel() {
        return served.values().stream().findFirst().orElse(null);
    }

    /** The model serving {@code name} now (404 if none). */
    public ServedModel model(String name) {
        ServedModel s = served.get(name);
        if (s == null) {
            throw new UnknownModel(name, new ArrayList<>(served.keySet()));
        }
        return s;
    }

    /**
     * A hold on the model's current version for one request, with room in its queue: 404 unknown, 503
     * unavailable or shutting down, 429 full. Close it when the request is done.
     */
    public ServedModel.Lease lease(String name) {
        while (true) {
            ServedModel.Lease lease = model(name).lease();
            if (lease != null) {
                return lease;
            }
            // replaced or unloaded meanwhile: take whatever serves the name now
        }
    }

    /** Serves {@code fresh} under its name; a version served before is retired once its requests finish. */
    synchronized void serve(ServedModel fresh) {
        Map<String, ServedModel> next = new LinkedHashMap<>(served);
        ServedModel old = next.put(fresh.name(), fresh);
        served = java.util.Collections.unmodifiableMap(next);
        gauge(fresh);
        if (old != null) {
            retire(old);
        }
    }

    /** Stops serving a model: new requests get 404, the ones in flight finish, then its memory is freed. */
    synchronized void remove(String name) {
        Map<String, ServedModel> next = new LinkedHashMap<>(served);
        ServedModel old = next.remove(name);
        if (old == null) {
            throw new UnknownModel(name, new ArrayList<>(served.keySet()));
        }
        served = java.util.Collections.unmodifiableMap(next);
        retire(old);
    }

    /** Whether a model of that name is served (loaded or unavailable). */
    boolean serves(String name) {
        return served.containsKey(name);
    }

    /** Waits for the requests holding the version, then drains its queue within the shutdown grace and frees it. */
    private void retire(ServedModel old) {
        Duration grace = properties.batching().shutdownGrace();
        Duration leaseWait = grace.compareTo(properties.batching().requestTimeout()) > 0 ? grace
                : properties.batching().requestTimeout();
        int held = old.retire(leaseWait, grace);
        if (!old.available()) {
            return;
        }
        ServedModel now = served.get(old.name());
        if (now == null || !old.version().equals(now.version())) {
            io.micrometer.core.instrument.Meter gauge = meters.find(QUEUE_DEPTH).tags("model", old.name(), "version",
                    old.version()).gauge();
            if (gauge != null) {
                meters.remove(gauge);
            }
            retireListeners.forEach(l -> l.accept(old.name(), old.version()));
        }
        if (held > 0) {
            LOG.warn("model '{}' v{} retired with {} request(s) still holding it at the deadline", old.name(), old.version(), held);
        } else {
            LOG.info("model '{}' v{} retired: its requests finished and its memory is freed", old.name(), old.version());
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /** Starts (or, after a stop, resumes) taking work. */
    @Override
    public void start() {
        served.values().forEach(ServedModel::resume);
        running = true;
    }

    /**
     * Drains after the web server has stopped taking requests and finished its in-flight ones. The
     * models stay loaded: a stopped context may be started again (Spring's test contexts pause).
     */
    @Override
    public void stop() {
        served.values().forEach(s -> s.drain(properties.batching().shutdownGrace()));
        running = false;
    }

    /** Frees the models' native memory when the application context closes. */
    @Override
    public void destroy() {
        served.values().forEach(ServedModel::close);
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        // below the web server's graceful-shutdown and start/stop phases: stopped after them
        return WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE - 4096;
    }
}
