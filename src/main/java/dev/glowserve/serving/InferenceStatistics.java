package dev.glowserve.serving;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A model version's cumulative statistics since it was loaded, as Triton's statistics extension reports them:
 * requests that succeeded and failed (count and total time), the time requests waited in the queue and spent in the
 * model's passes, images and batches computed, and per batch size the passes' count and time. Prometheus carries the
 * same figures as histograms; these answer {@code GET /v2/models/{m}/stats} for clients that ask Triton's way.
 */
public final class InferenceStatistics {

    /** A count of events and their total duration in nanoseconds. */
    public record Duration(long count, long ns) {}

    /** One batch size's passes. */
    public record BatchStat(int batchSize, Duration computeInfer) {}

    /** A consistent copy of the figures. */
    public record Snapshot(long lastInferenceMillis, long inferenceCount, long executionCount, Duration success, Duration fail,
            Duration queue, Duration computeInfer, java.util.List<BatchStat> batches) {}

    private final Tally success = new Tally();
    private final Tally fail = new Tally();
    private final Tally queue = new Tally();
    private final Tally compute = new Tally();
    private final AtomicLong images = new AtomicLong();
    private final AtomicLong lastInference = new AtomicLong();
    private final Map<Integer, Tally> bySize = new TreeMap<>();

    /** A request answered (or failed) after {@code nanos}, from its validation to its response. */
    void request(boolean ok, long nanos) {
        (ok ? success : fail).add(nanos);
    }

    void queued(long nanos) {
        queue.add(nanos);
    }

    /** One batched pass of {@code size} images that took {@code nanos}. */
    void pass(int size, long nanos) {
        compute.add(nanos);
        images.addAndGet(size);
        lastInference.set(System.currentTimeMillis());
        Tally t;
        synchronized (bySize) {
            t = bySize.computeIfAbsent(size, k -> new Tally());
        }
        t.add(nanos);
    }

    public Snapshot snapshot() {
        java.util.List<BatchStat> batches = new java.util.ArrayList<>();
        synchronized (bySize) {
            bySize.forEach((size, t) -> batches.add(new BatchStat(size, t.read())));
        }
        Duration c = compute.read();
        return new Snapshot(lastInference.get(), images.get(), c.count(), success.read(), fail.read(), queue.read(), c, batches);
    }

    /** A count and a total that are read together. */
    private static final class Tally {
        private long count;
        private long ns;

        synchronized void add(long nanos) {
            count++;
            ns += nanos;
        }

        synchronized Duration read() {
            return new Duration(count, ns);
        }
    }
}
