package dev.glowserve.serving;

import dev.glowserve.runtime.Lanes;
import dev.glowserve.runtime.ModelRunner;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Dynamic batching for one model, the way Triton and TorchServe do it: requests wait in a
 * bounded queue; a worker thread takes the oldest, gathers queued requests of the same kind
 * until the batch is full or the oldest has waited {@code maxQueueDelay}, runs one batched pass
 * and splits the results back. Several workers run batches side by side, each pass on its own
 * thread: one pass alone leaves the other cores to the web layer, which does not fill them.
 *
 * <p>Requests wait by priority level ({@link JobQueue}: level 1 first, oldest first within a level), each until its
 * deadline: its own ({@link RequestWork#timeout}) or the service's request timeout, whichever is earlier; past it,
 * a job is dropped uncomputed. A job whose request ends first (its client left, cancelled, timed out) is taken out
 * of the queue at once and never computed.
 *
 * <p>Results do not depend on the batch: every image's computation is independent and sample
 * noise comes from each request's own seed.
 *
 * <p>Over 300 lines because the queue, the gathering of a batch, the all-cores lane and the drain share one lock and
 * one set of counters; spread over classes, that lock's invariants would be too.
 */
public final class BatchScheduler implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BatchScheduler.class);

    /**
     * {@code workers}: batches run side by side (each on its own thread), at least 1; {@code priorityLevels} the
     * levels a request may ask for (1 the highest), {@code defaultPriority} the level of one that asks for none.
     */
    public record Settings(int maxBatchSize, Duration maxQueueDelay, int queueCapacity, Duration requestTimeout, int workers,
                           int priorityLevels, int defaultPriority) {
        public Settings {
            if (priorityLevels < 1 || defaultPriority < 1 || defaultPriority > priorityLevels) {
                throw new IllegalArgumentException("default priority " + defaultPriority + " is not one of the levels 1.." + priorityLevels);
            }
        }

        /** Two levels, requests that name none on the lower one: a level-1 request overtakes them. */
        public Settings(int maxBatchSize, Duration maxQueueDelay, int queueCapacity, Duration requestTimeout, int workers) {
            this(maxBatchSize, maxQueueDelay, queueCapacity, requestTimeout, workers, 2, 2);
        }
    }

    /** An operation's meters, registered once with the scheduler. */
    private record Meters(Timer queueWait, DistributionSummary batchSize, Timer pass, Counter images) {}

    private final ModelRunner runner;
    private final Settings settings;
    private final JobQueue queue;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean accepting = true;
    private volatile boolean running = true;
    private volatile double meanBatchSeconds = 0.05;
    private final java.util.concurrent.atomic.AtomicInteger busy = new java.util.concurrent.atomic.AtomicInteger();
    /** Queue length as last seen under the lock, for the lock-free check in {@link #admit()}. */
    private volatile int depth;

    /**
     * A batch that finds the queue empty and the other workers idle runs on all cores, on this thread (its intra-op
     * threads set once, as libtorch keeps them per thread); meanwhile the other workers wait to start theirs, so
     * the cores are never asked for twice. Null where there are no cores to gain: a GPU, a single worker, or
     * workers that already run on all cores.
     */
    private final java.util.concurrent.ExecutorService wide;
    private final java.util.concurrent.locks.ReentrantReadWriteLock cores = new java.util.concurrent.locks.ReentrantReadWriteLock();
    private final Counter widePasses;

    private final Counter rejectedFull;
    private final Counter rejectedShutdown;
    private final Counter expired;
    private final Counter cancelled;
    private final java.util.Map<BatchOperation<?, ?>, Meters> meters;
    private final InferenceStatistics statistics = new InferenceStatistics();

    public BatchScheduler(ModelRunner runner, Settings settings, MeterRegistry meters) {
        this.runner = runner;
        this.settings = settings;
        this.queue = new JobQueue(settings.priorityLevels());
        String model = runner.name();
        String version = runner.version();
        java.util.Map<BatchOperation<?, ?>, Meters> byOp = new java.util.HashMap<>();
        for (BatchOperation<?, ?> op : BatchOperation.ALL) {
            byOp.put(op, new Meters(
                    Timer.builder("glow.queue.wait").tag("model", model).tag("version", version).tag("operation", op.tag)
                            .description("Time requests waited before their batch started").register(meters),
                    DistributionSummary.builder("glow.batch.size").tag("model", model).tag("version", version)
                            .tag("operation", op.tag).description("Images per batched model pass")
                            .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256).register(meters),
                    Timer.builder("glow.model." + op.pass).tag("model", model).tag("version", version)
                            .description("Time of batched " + op.pass + " passes").register(meters),
                    Counter.builder("glow.images.processed").tag("model", model).tag("version", version)
                            .tag("operation", op.tag).description("Images through the model").register(meters)));
        }
        this.meters = java.util.Map.copyOf(byOp);
        this.rejectedFull = Counter.builder("glow.requests.rejected").tag("model", model).tag("version", version).tag("reason", "queue_full")
                .description("Requests refused because the model's queue was full (HTTP 429)").register(meters);
        this.rejectedShutdown = Counter.builder("glow.requests.rejected").tag("model", model).tag("version", version).tag("reason", "shutting_down")
                .description("Requests refused during shutdown (HTTP 503)").register(meters);
        this.expired = Counter.builder("glow.requests.deadline.expired").tag("model", model).tag("version", version)
                .description("Requests dropped uncomputed after waiting past their deadline (HTTP 503)").register(meters);
        this.cancelled = Counter.builder("glow.requests.cancelled").tag("model", model).tag("version", version)
                .description("Queued work taken out uncomputed because its request ended first (client gone, cancelled, timed out)")
                .register(meters);
        this.widePasses = Counter.builder("glow.batches.all.cores").tag("model", model).tag("version", version)
                .description("Batches that found the other workers idle and ran on all cores").register(meters);
        this.wide = wideLane(runner, settings.workers());
        startWorker();
    }

    /** The all-cores thread, where a lone batch gains cores: several workers of fewer threads than cores, on CPU. */
    private static java.util.concurrent.ExecutorService wideLane(ModelRunner runner, int workers) {
        int all = Runtime.getRuntime().availableProcessors();
        boolean cpu = ai.djl.Device.Type.CPU.equals(runner.glow().manager().getDevice().getDeviceType());
        if (!cpu || workers < 2 || ai.djl.pytorch.jni.JniUtils.getNumThreads() >= all) {
            return null;
        }
        return Lanes.pinnedThreads(1, all, "glow-all-cores-" + runner.name() + "-");
    }

    private void startWorker() {
        workers.clear();
        for (int i = 0; i < Math.max(1, settings.workers()); i++) {
            Thread worker = new Thread(this::work, "glow-batch-" + runner.name() + "-" + i);
            worker.setDaemon(true);
            worker.start();
            workers.add(worker);
        }
    }

    /** Takes work again after a {@link #drain} (a paused application context being resumed). */
    public synchronized void resume() {
        if (!running) {
            running = true;
            accepting = true;
            startWorker();
        }
    }

    public ModelRunner runner() {
        return runner;
    }

    /** Triton-style cumulative statistics of this model version. */
    public InferenceStatistics statistics() {
        return statistics;
    }

    public Settings settings() {
        return settings;
    }

    public int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    public CompletableFuture<List<ModelRunner.Encoded>> encode(List<byte[]> images, int[] labels) {
        return encode(images, labels, RequestWork.detached());
    }

    public CompletableFuture<List<byte[]>> decode(List<float[][]> eps, int[] labels) {
        return decode(eps, labels, RequestWork.detached());
    }

    /** Scores and latents of {@code images}, queued as {@code work}'s (its priority, deadline and cancellation). */
    public CompletableFuture<List<ModelRunner.Encoded>> encode(List<byte[]> images, int[] labels, RequestWork work) {
        return submit(BatchOperation.ENCODE, images, labels, work);
    }

    public CompletableFuture<List<byte[]>> decode(List<float[][]> eps, int[] labels, RequestWork work) {
        return submit(BatchOperation.DECODE, eps, labels, work);
    }

    public CompletableFuture<List<byte[]>> decodeZ(List<float[][]> z, RequestWork work) {
        return submit(BatchOperation.DECODE_Z, z, null, work);
    }

    private <I, O> CompletableFuture<List<O>> submit(BatchOperation<I, O> op, List<I> items, int[] labels, RequestWork work) {
        int asked = work.priority();
        if (asked != RequestWork.DEFAULT_PRIORITY && (asked < 1 || asked > settings.priorityLevels())) {
            throw dev.glowserve.runtime.ClientError.malformed("priority " + asked + " is not a level of model '" + runner.name()
                    + "': 1 (the highest) to " + settings.priorityLevels() + ", or 0 for the default (" + settings.defaultPriority() + ")");
        }
        int priority = asked == RequestWork.DEFAULT_PRIORITY ? settings.defaultPriority() : asked;
        long serviceDeadline = System.nanoTime() + settings.requestTimeout().toNanos();
        java.util.OptionalLong own = work.deadline();
        boolean ownFirst = own.isPresent() && own.getAsLong() - serviceDeadline < 0;
        BatchJob<I, O> job = new BatchJob<>(op, items, labels, priority, ownFirst ? own.getAsLong() : serviceDeadline, ownFirst);
        submit(job);
        // a request that ends while its job waits takes the job out of the queue, so it holds no place there
        job.result.whenComplete((r, e) -> {
            if (e instanceof java.util.concurrent.CancellationException) {
                withdraw(job);
            }
        });
        return work.track(job.result);
    }

    private void withdraw(BatchJob<?, ?> job) {
        lock.lock();
        try {
            if (queue.remove(job)) {
                cancelled.increment();
                depth = queue.size();
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Refuses at once when the queue is full, before a request does any work (parsing images,
     * drawing latents): under overload, shedding must be cheap. {@link #submit} checks again.
     */
    public void admit() {
        if (!accepting) {
            rejectedShutdown.increment();
            throw new Overload.ShuttingDown(runner.name());
        }
        int depth = this.depth; // a hint; submit() decides under the lock
        if (depth >= settings.queueCapacity()) {
            rejectedFull.increment();
            throw new Overload.QueueFull(runner.name(), settings.queueCapacity(), retryAfter(depth));
        }
    }

    private long retryAfter(int depth) {
        return Math.max(1, (long) Math.ceil(depth * meanBatchSeconds / Math.max(1, settings.maxBatchSize() / 4.0)));
    }

    private void submit(BatchJob<?, ?> job) {
        if (!accepting) {
            rejectedShutdown.increment();
            throw new Overload.ShuttingDown(runner.name());
        }
        lock.lock();
        try {
            if (queue.size() >= settings.queueCapacity()) {
                rejectedFull.increment();
                throw new Overload.QueueFull(runner.name(), settings.queueCapacity(), retryAfter(queue.size()));
            }
            queue.add(job);
            depth = queue.size();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Set by {@link #nextBatch} for the batch it returns: nothing else queued, no other worker busy. */
    private boolean lone;

    private void work() {
        while (running) {
            List<BatchJob<?, ?>> batch;
            boolean alone;
            try {
                lock.lock();
                try {
                    batch = nextBatch();
                    alone = lone;
                } finally {
                    lock.unlock();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            try {
                if (batch != null && !batch.isEmpty()) {
                    runOnCores(batch, alone);
                }
            } finally {
                if (batch != null) {
                    busy.decrementAndGet();
                }
            }
        }
    }

    /** Waits for work, then gathers jobs like the oldest one until full or until its delay is up. */
    private List<BatchJob<?, ?>> nextBatch() throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty()) {
                if (!running) {
                    return null;
                }
                changed.await(100, TimeUnit.MILLISECONDS);
            }
            BatchJob<?, ?> first = takeLive();
            depth = queue.size();
            if (first == null) {
                return null;
            }
            List<BatchJob<?, ?>> batch = new ArrayList<>();
            batch.add(first);
            int size = first.items.size();
            long gatherUntil = first.enqueued + settings.maxQueueDelay().toNanos();
            while (size < settings.maxBatchSize()) {
                for (Iterator<BatchJob<?, ?>> it = queue.iterator(); it.hasNext() && size < settings.maxBatchSize(); ) {
                    BatchJob<?, ?> j = it.next();
                    if (j.result.isDone()) { // its request ended: withdraw() counts it
                        it.remove();
                        countIfCancelled(j);
                        continue;
                    }
                    if (j.batchesWith(first) && size + j.items.size() <= settings.maxBatchSize()) {
                        it.remove();
                        if (expire(j)) {
                            continue;
                        }
                        batch.add(j);
                        size += j.items.size();
                    }
                }
                long wait = gatherUntil - System.nanoTime();
                // no worker busy: the cores are idle now, and waiting for company would only add the delay
                boolean idle = wide != null && busy.get() == 0 && queue.isEmpty();
                if (size >= settings.maxBatchSize() || wait <= 0 || !accepting || idle) {
                    break;
                }
                changed.awaitNanos(wait);
            }
            lone = busy.incrementAndGet() == 1 && queue.isEmpty();
            depth = queue.size();
            return batch;
        } finally {
            lock.unlock();
        }
    }

    /** The oldest job still worth running (expired ones fail with 503, abandoned ones are dropped). */
    private BatchJob<?, ?> takeLive() {
        BatchJob<?, ?> j;
        while ((j = queue.poll()) != null) {
            if (j.result.isDone()) {
                countIfCancelled(j);
                continue;
            }
            if (expire(j)) {
                continue;
            }
            return j;
        }
        return null;
    }

    /** A job whose request ended, found in the queue before withdraw() could take it out. */
    private void countIfCancelled(BatchJob<?, ?> j) {
        if (j.result.isCancelled()) {
            cancelled.increment();
        }
    }

    private boolean expire(BatchJob<?, ?> j) {
        long now = System.nanoTime();
        if (now > j.deadline) {
            expired.increment();
            j.result.completeExceptionally(new Overload.DeadlineExceeded(runner.name(), (now - j.enqueued) / 1_000_000, j.ownDeadline));
            return true;
        }
        return false;
    }

    /** Runs a lone batch on all cores when no other worker holds any, else on this worker's own threads. */
    private void runOnCores(List<BatchJob<?, ?>> batch, boolean alone) {
        if (wide != null && alone && cores.writeLock().tryLock()) {
            try {
                widePasses.increment();
                wide.submit(() -> run(batch)).get();
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                batch.forEach(j -> j.result.completeExceptionally(new Overload.ShuttingDown(runner.name())));
                return;
            } catch (java.util.concurrent.ExecutionException e) {
                batch.forEach(j -> j.result.completeExceptionally(e.getCause()));
                return;
            } finally {
                cores.writeLock().unlock();
            }
        }
        cores.readLock().lock();
        try {
            run(batch);
        } finally {
            cores.readLock().unlock();
        }
    }

    private void run(List<BatchJob<?, ?>> gathered) {
        run(gathered.get(0).op, gathered);
    }

    private <I, O> void run(BatchOperation<I, O> op, List<BatchJob<?, ?>> gathered) {
        // a client may leave while its job waits in a batch for company: its job is not computed
        gathered.stream().filter(j -> j.result.isDone()).forEach(this::countIfCancelled);
        List<BatchJob<I, O>> batch = gathered.stream().filter(j -> !j.result.isDone()).map(op::own).toList();
        if (batch.isEmpty()) {
            return;
        }
        Meters m = meters.get(op);
        long start = System.nanoTime();
        for (BatchJob<I, O> j : batch) {
            m.queueWait().record(start - j.enqueued, TimeUnit.NANOSECONDS);
            statistics.queued(start - j.enqueued);
        }
        try {
            List<O> results = execute(op, batch);
            // the figures first: a client that has its answer finds its images counted
            record(m, batch, System.nanoTime() - start);
            int offset = 0;
            for (BatchJob<I, O> j : batch) {
                j.result.complete(results.subList(offset, offset + j.items.size()));
                offset += j.items.size();
            }
            return;
        } catch (RuntimeException e) {
            if (batch.size() == 1) {
                batch.get(0).result.completeExceptionally(e);
            } else {
                // one request's bad input must not fail the others: run each alone to find it
                for (BatchJob<I, O> j : batch) {
                    try {
                        j.result.complete(execute(op, List.of(j)));
                    } catch (RuntimeException single) {
                        j.result.completeExceptionally(single);
                    }
                }
            }
        } catch (Error e) {
            batch.forEach(j -> j.result.completeExceptionally(e));
            throw e;
        }
        record(m, batch, System.nanoTime() - start);
    }

    private void record(Meters m, List<? extends BatchJob<?, ?>> batch, long took) {
        meanBatchSeconds = 0.9 * meanBatchSeconds + 0.1 * took / 1e9;
        int images = batch.stream().mapToInt(j -> j.items.size()).sum();
        m.batchSize().record(images);
        m.pass().record(took, TimeUnit.NANOSECONDS);
        statistics.pass(images, took);
        m.images().increment(images);
    }

    private <I, O> List<O> execute(BatchOperation<I, O> op, List<BatchJob<I, O>> batch) {
        List<I> items = new ArrayList<>();
        boolean labelled = batch.get(0).labels != null;
        int total = batch.stream().mapToInt(j -> j.items.size()).sum();
        int[] labels = labelled ? new int[total] : null;
        int at = 0;
        for (BatchJob<I, O> j : batch) {
            items.addAll(j.items);
            if (labelled) {
                System.arraycopy(j.labels, 0, labels, at, j.labels.length);
            }
            at += j.items.size();
        }
        return op.run(runner, items, labels);
    }

    /**
     * Graceful stop: refuse new work, let queued and running batches finish within {@code grace},
     * then fail whatever is left with 503 and stop the worker.
     */
    public synchronized void drain(Duration grace) {
        accepting = false;
        long until = System.nanoTime() + grace.toNanos();
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        while (System.nanoTime() < until && (queued() > 0 || workerBusy())) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        running = false;
        lock.lock();
        try {
            BatchJob<?, ?> j;
            while ((j = queue.poll()) != null) {
                j.result.completeExceptionally(new Overload.ShuttingDown(runner.name()));
            }
            depth = 0;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            for (Thread worker : workers) {
                worker.join(Math.max(1, grace.toMillis()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info("model '{}' drained", runner.name());
    }

    private boolean workerBusy() {
        return busy.get() > 0;
    }

    public boolean accepting() {
        return accepting;
    }

    /** Stops the worker (failing anything still queued); the runner stays open: its owner closes it. */
    @Override
    public void close() {
        if (running) {
            drain(Duration.ZERO);
        }
        if (wide != null) {
            wide.shutdown();
        }
    }
}
