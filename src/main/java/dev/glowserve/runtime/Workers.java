package dev.glowserve.runtime;

import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Threads that each run their own model pass side by side (serving's batching workers, the
 * trainer's workers, the benchmark's split batches), sized against the engine's intra-op threads
 * so that workers × threads = cores.
 */
public final class Workers {

    private Workers() {}

    /** How many workers the cores hold with the engine's intra-op threads per pass (at least 1); starts the engine. */
    public static int slots() {
        int cores = Runtime.getRuntime().availableProcessors();
        return Math.max(1, cores / Math.max(1, JniUtils.getNumThreads()));
    }

    /** Gives each of {@code workers} passes its share of the cores; only before the engine starts (DJL reads it then). */
    public static void splitCores(int workers) {
        int cores = Runtime.getRuntime().availableProcessors();
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(Math.max(1, cores / Math.max(1, workers))));
    }

    /** Runs the calls on the pool at once and returns their results in order; a call's runtime exception is rethrown. */
    public static <T> List<T> invokeAll(ExecutorService pool, List<Callable<T>> calls) {
        List<T> out = new ArrayList<>(calls.size());
        try {
            for (Future<T> f : pool.invokeAll(calls)) {
                out.add(f.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
        return out;
    }

    /**
     * Sets the engine's intra-op threads for {@code workers} data-parallel workers (0 = one per core on CPU; on a GPU,
     * which runs one batch at a time, nothing changes) before the engine starts; a trainer then runs {@link #slots()}
     * workers. One worker per core beats one worker on every core: a training step's thousands of small ops leave the
     * second thread of a single worker spinning (docs/PERFORMANCE.md).
     */
    public static void configureForWorkers(int workers) {
        if (workers == 0 && ai.djl.util.cuda.CudaUtils.getGpuCount() > 0) {
            return;
        }
        int cores = Runtime.getRuntime().availableProcessors();
        splitCores(workers > 0 ? Math.min(workers, cores) : cores);
    }
}
