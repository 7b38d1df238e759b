package dev.glowserve.inference;

import ai.djl.Device;
import ai.djl.engine.Engine;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The served models, loaded and warmed up (one forward and one reverse pass each) while the
 * application starts, so readiness turns UP only once they can answer. With one model configured
 * a model that fails to load stops start-up; with several it is marked unavailable (503) and the
 * readiness details say why.
 */
@Component
public class ModelRegistry implements SmartLifecycle, DisposableBean {

    private static final Logger LOG = LoggerFactory.getLogger(ModelRegistry.class);

    /** A configured model: its scheduler when available, otherwise the reason it is not. */
    public record Entry(String name, String path, BatchScheduler scheduler, String error) {
        public boolean available() {
            return scheduler != null;
        }
    }

    /** No model of that name is configured (HTTP 404). */
    public static final class UnknownModel extends RuntimeException {
        public UnknownModel(String name, List<String> known) {
            super("no model named '" + name + "'; models: " + String.join(", ", known));
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
    private final Device device;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private volatile boolean running;

    public ModelRegistry(GlowProperties properties, MeterRegistry meters) {
        this.properties = properties;
        // before the first tensor: how the C allocator keeps freed memory
        NativeAllocator.tune(properties.inference().mallocTuning());
        this.device = Devices.select(properties.device());
        LOG.info("glow-serve device: {} (glow.device={}, {} engine {}, {} GPU(s) visible)", Devices.describe(device),
                properties.device(), Engine.getInstance().getEngineName(), Engine.getInstance().getVersion(),
                Engine.getInstance().getGpuCount());
        GlowProperties.Batching b = properties.batching();
        int workers = b.workersFor(device.isGpu());
        BatchScheduler.Settings settings = new BatchScheduler.Settings(b.maxBatchSize(), b.maxQueueDelay(),
                b.queueCapacity(), b.requestTimeout(), workers);
        LOG.info("batching: up to {} images per pass, {} ms queue delay, {} worker(s) per model (glow.batching.workers={})",
                b.maxBatchSize(), b.maxQueueDelay().toMillis(), workers, b.workers());
        List<GlowProperties.ModelSpec> specs = properties.models();
        for (int i = 0; i < specs.size(); i++) {
            GlowProperties.ModelSpec spec = specs.get(i);
            String fallbackName = spec.name() != null ? spec.name() : "model-" + i;
            ModelRunner runner = null;
            try {
                long t0 = System.nanoTime();
                runner = ModelLoader.open(spec.path(), device, 64, properties.inference().settings());
                String name = spec.name() != null ? spec.name() : runner.manifest().name();
                if (entries.containsKey(name)) {
                    throw new IllegalArgumentException("two models are named '" + name + "'; set glow.models[" + i + "].name");
                }
                if (spec.name() != null) {
                    runner = runner.named(name);
                }
                warmUp(runner);
                entries.put(name, new Entry(name, spec.path(), new BatchScheduler(runner, settings, meters), null));
                LOG.info("model '{}' v{} from {} ready on {} in {} ms", name, runner.manifest().versionOrDefault(), spec.path(),
                        Devices.describe(device), (System.nanoTime() - t0) / 1_000_000);
            } catch (RuntimeException e) {
                if (runner != null) {
                    runner.close();
                }
                String reason = e.getMessage();
                if (specs.size() == 1) {
                    throw new ModelLoadException("model at " + spec.path() + " failed to load: " + reason, e);
                }
                LOG.error("model '{}' at {} is unavailable: {}", fallbackName, spec.path(), reason);
                entries.put(fallbackName, new Entry(fallbackName, spec.path(), null, reason));
            }
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

    public List<Entry> entries() {
        return Collections.unmodifiableList(new ArrayList<>(entries.values()));
    }

    /** The first configured model, which readiness waits for. */
    public Entry defaultModel() {
        return entries.values().iterator().next();
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new UnknownModel(name, new ArrayList<>(entries.keySet()));
        }
        return e;
    }

    /** The scheduler of an available model with room in its queue; 404, 503 or 429 otherwise. */
    public BatchScheduler scheduler(String name) {
        Entry e = entry(name);
        if (!e.available()) {
            throw new ModelUnavailable(name, e.error());
        }
        e.scheduler().admit();
        return e.scheduler();
    }

    /** Starts (or, after a stop, resumes) taking work. */
    @Override
    public void start() {
        for (Entry e : entries.values()) {
            if (e.available()) {
                e.scheduler().resume();
            }
        }
        running = true;
    }

    /**
     * Drains after the web server has stopped taking requests and finished its in-flight ones. The
     * models stay loaded: a stopped context may be started again (Spring's test contexts pause).
     */
    @Override
    public void stop() {
        for (Entry e : entries.values()) {
            if (e.available()) {
                e.scheduler().drain(properties.batching().shutdownGrace());
            }
        }
        running = false;
    }

    /** Frees the models' native memory when the application context closes. */
    @Override
    public void destroy() {
        for (Entry e : entries.values()) {
            if (e.available()) {
                e.scheduler().close();
                e.scheduler().runner().close();
            }
        }
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
