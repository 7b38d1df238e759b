package dev.glowserve.serving;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** One request's items for one operation, and where their results go. */
final class BatchJob<I, O> {
    final BatchOperation<I, O> op;
    final List<I> items;
    final int[] labels;
    final CompletableFuture<List<O>> result = new CompletableFuture<>();
    final long enqueued = System.nanoTime();
    final long deadline;

    BatchJob(BatchOperation<I, O> op, List<I> items, int[] labels, Duration timeout) {
        this.op = op;
        this.items = items;
        this.labels = labels;
        this.deadline = enqueued + timeout.toNanos();
    }

    boolean batchesWith(BatchJob<?, ?> other) {
        return op == other.op && (labels == null) == (other.labels == null);
    }
}
