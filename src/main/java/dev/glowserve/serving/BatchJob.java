package dev.glowserve.serving;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** One request's items for one operation, its priority level and deadline, and where their results go. */
final class BatchJob<I, O> {
    final BatchOperation<I, O> op;
    final List<I> items;
    final int[] labels;
    final CompletableFuture<List<O>> result = new CompletableFuture<>();
    final long enqueued = System.nanoTime();
    /** 1 is the highest. */
    final int priority;
    final long deadline;
    /** Whether the deadline is the request's own (its timeout parameter, gRPC deadline) rather than the service's. */
    final boolean ownDeadline;

    BatchJob(BatchOperation<I, O> op, List<I> items, int[] labels, int priority, long deadline, boolean ownDeadline) {
        this.op = op;
        this.items = items;
        this.labels = labels;
        this.priority = priority;
        this.deadline = deadline;
        this.ownDeadline = ownDeadline;
    }

    boolean batchesWith(BatchJob<?, ?> other) {
        return op == other.op && (labels == null) == (other.labels == null);
    }
}
