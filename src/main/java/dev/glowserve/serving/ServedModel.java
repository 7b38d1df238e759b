package dev.glowserve.serving;

import dev.glowserve.artifact.Calibration;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.ModelRunner;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One served version of a model: its runner and batching scheduler, the requests that hold it, and its end. A request
 * takes a {@link Lease} for as long as it runs; a version that is replaced or unloaded is retired: it takes no new
 * leases, waits for the ones held, drains its queue and frees its memory. A version that failed to load is served as
 * unavailable, with the reason. The API sees it through {@link #view()} only.
 */
public final class ServedModel {

    /**
     * What the API and the actuator show of a served version. {@code state}: available, draining (a replaced or
     * stopping version finishing its work) or unavailable (with {@code error}); the model's fields are null then.
     */
    public record View(String name, String version, String state, String error, GlowConfig config, Manifest manifest,
                       Calibration calibration, long parameters, String inferencePass, String routes) {

        public boolean available() {
            return !"unavailable".equals(state);
        }

        /** Loaded and taking new work (not draining). */
        public boolean accepting() {
            return "available".equals(state);
        }

        /** Bytes of one 8-bit image of the model's shape. */
        public int imageSize() {
            return config.dimensions();
        }
    }

    /** A request's hold on the version: it keeps taking that request's work until the lease is closed. */
    public static final class Lease implements AutoCloseable {
        private final ServedModel model;
        private boolean closed;

        private Lease(ServedModel model) {
            this.model = model;
        }

        public ServedModel model() {
            return model;
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                model.release();
            }
        }
    }

    private final String name;
    private final String version;
    private final String path;
    private final ModelRunner runner;
    private final BatchScheduler scheduler;
    private final String error;
    private final View view;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    private int leases;
    private boolean retired;

    private ServedModel(String name, String version, String path, ModelRunner runner, BatchScheduler scheduler, String error) {
        this.name = name;
        this.version = version;
        this.path = path;
        this.runner = runner;
        this.scheduler = scheduler;
        this.error = error;
        this.view = runner == null ? new View(name, version, "unavailable", error, null, null, null, 0, null, null)
                : new View(name, version, "available", null, runner.config(), runner.manifest(), runner.calibration(),
                        runner.glow().parameters().trainableCount(), runner.inferencePass(), runner.routes());
    }

    /** A loaded version, its scheduler running. */
    static ServedModel serving(String path, ModelRunner runner, BatchScheduler scheduler) {
        return new ServedModel(runner.name(), runner.version(), path, runner, scheduler, null);
    }

    /** A version that could not be loaded: every lease is refused with {@code error} (HTTP 503). */
    static ServedModel unavailable(String name, String version, String path, String error) {
        return new ServedModel(name, version, path, null, null, error);
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    /** Where it was loaded from, for the server's own log (never shown to clients). */
    String path() {
        return path;
    }

    public boolean available() {
        return scheduler != null;
    }

    public String error() {
        return error;
    }

    /** Whether it takes new work: loaded, and not draining. */
    public boolean accepting() {
        return scheduler != null && scheduler.accepting();
    }

    /** What the API may know of this version; made once, its state read now. */
    public View view() {
        if (!available() || scheduler.accepting()) {
            return view;
        }
        return new View(name, version, "draining", null, view.config(), view.manifest(), view.calibration(), view.parameters(),
                view.inferencePass(), view.routes());
    }

    BatchScheduler scheduler() {
        return scheduler;
    }

    /** Triton-style statistics since this version loaded; null when it is unavailable. */
    public InferenceStatistics statistics() {
        return scheduler == null ? null : scheduler.statistics();
    }

    ModelRunner runner() {
        return runner;
    }

    int queued() {
        return scheduler.queued();
    }

    /**
     * A lease for one request, with room in the queue (else {@link Overload.QueueFull} or {@link Overload.ShuttingDown});
     * null once the version is retired, so the caller takes whatever serves the name now.
     */
    Lease lease() {
        if (!available()) {
            throw new ModelRegistry.ModelUnavailable(name, error);
        }
        lock.lock();
        try {
            if (retired) {
                return null;
            }
            scheduler.admit();
            leases++;
            return new Lease(this);
        } finally {
            lock.unlock();
        }
    }

    private void release() {
        lock.lock();
        try {
            leases--;
            if (leases == 0) {
                released.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops serving this version: no new leases, then waits (up to {@code leaseWait}) for the requests holding it,
     * drains its queue within {@code grace} and frees its memory. Returns the leases still held at the deadline.
     */
    int retire(Duration leaseWait, Duration grace) {
        int held;
        lock.lock();
        try {
            retired = true;
            long left = leaseWait.toNanos();
            while (leases > 0 && left > 0) {
                left = released.awaitNanos(left);
            }
            held = leases;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            held = leases;
        } finally {
            lock.unlock();
        }
        if (available()) {
            scheduler.drain(grace);
            close();
        }
        return held;
    }

    /** Refuses new work and lets queued and running batches finish within {@code grace} (the service stopping). */
    void drain(Duration grace) {
        if (available()) {
            scheduler.drain(grace);
        }
    }

    /** Takes work again after {@link #drain} (a paused application context being resumed). */
    void resume() {
        if (available()) {
            scheduler.resume();
        }
    }

    /** Frees the scheduler's threads and the model's native memory. */
    void close() {
        if (available()) {
            scheduler.close();
            runner.close();
        }
    }
}
