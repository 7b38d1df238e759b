package dev.glowserve.runtime;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;

/**
 * One single-threaded pass per core, side by side, for the command line's large batches: a batch is cut
 * into chunks of {@link #CHUNK} images that the lanes take one at a time. Single-threaded kernels skip
 * the per-op thread hand-offs, and a core that its host slows down simply takes fewer chunks, where a pass
 * split over both cores runs at the slower one's pace. Results are the same bits: an image's result does not
 * depend on its
 * batch. The server does not use lanes: its batching workers already run one pass per core.
 */
public final class Lanes implements AutoCloseable {

    /** Images per chunk, the fastest of the sizes tried (docs/PERFORMANCE.md). */
    public static final int CHUNK = 16;

    private final ExecutorService pool;
    private final int count;

    Lanes(int count) {
        this.count = count;
        this.pool = pinnedThreads(count, 1, "glow-lane-");
    }

    /**
     * {@code count} threads, started now, each running libtorch's ops on {@code intraOpThreads} threads (a lane: 1; the
     * service's all-cores thread: every core). libtorch keeps the intra-op count per thread, taking the global count
     * when a thread first runs a parallel op: each thread sets its count and runs one, then the caller's own count is
     * put back (the setter also changes the count that threads starting later take).
     */
    public static ThreadPoolExecutor pinnedThreads(int count, int intraOpThreads, String namePrefix) {
        int callers = JniUtils.getNumThreads();
        CountDownLatch ready = new CountDownLatch(count);
        AtomicInteger index = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(count, count, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                task -> {
                    Thread t = new Thread(() -> {
                        fixIntraOpThreads(intraOpThreads);
                        ready.countDown();
                        task.run();
                    }, namePrefix + index.getAndIncrement());
                    t.setDaemon(true);
                    return t;
                });
        pool.prestartAllCoreThreads();
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pool.shutdownNow();
            throw new IllegalStateException("interrupted while starting " + namePrefix + " threads", e);
        } finally {
            JniUtils.setNumThreads(callers);
        }
        return pool;
    }

    /** One lane per core on a CPU with several cores; null otherwise (one pass on all cores is then as good). */
    public static Lanes perCore(ai.djl.Device device) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (cores < 2 || !ai.djl.Device.Type.CPU.equals(device.getDeviceType())) {
            return null;
        }
        return new Lanes(cores);
    }

    private static void fixIntraOpThreads(int threads) {
        JniUtils.setNumThreads(threads);
        // a first parallel op fixes this thread's count (libtorch's lazy per-thread init reads the global one)
        try (NDManager m = NDManager.newBaseManager()) {
            m.ones(new ai.djl.ndarray.types.Shape(2)).add(1).close();
        }
    }

    public int count() {
        return count;
    }

    /** Whether a batch of {@code n} is worth splitting: at least two chunks. */
    public static boolean splits(Lanes lanes, int n) {
        return lanes != null && n >= 2 * CHUNK;
    }

    /** {@code part(from, to)} for each chunk of {@code [0, n)}, on the lanes, results in chunk order. */
    public <T> List<T> map(int n, BiFunction<Integer, Integer, List<T>> part) {
        List<Callable<List<T>>> chunks = new ArrayList<>();
        for (int from = 0; from < n; from += CHUNK) {
            int start = from;
            int end = Math.min(n, from + CHUNK);
            chunks.add(() -> part.apply(start, end));
        }
        List<T> out = new ArrayList<>(n);
        runAll(chunks).forEach(out::addAll);
        return out;
    }

    /** {@code call} once on every lane at the same time (the benchmark's side-by-side ceiling). */
    public <T> List<T> onEach(Callable<T> call) {
        return runAll(java.util.Collections.nCopies(count, call));
    }

    /**
     * Runs the calls on the lanes while the caller waits. MKL's thread count is one setting for the whole
     * process: left at the caller's count, a lane's GEMM would start a thread team of its own, and the
     * extra OpenMP threads make libgomp stop spinning between parallel regions, which slows every later
     * small pass. So it is 1 while the lanes run and the caller's count after;
     * callers take turns (the lanes are busy anyway).
     */
    private synchronized <T> List<T> runAll(List<Callable<T>> calls) {
        int callers = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        try {
            return Workers.invokeAll(pool, calls);
        } finally {
            JniUtils.setNumThreads(callers);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
