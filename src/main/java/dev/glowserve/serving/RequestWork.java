package dev.glowserve.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The model work one request has queued, so that all of it is dropped when the request ends first (its client
 * left or cancelled, it timed out): work queued after that is cancelled as it is queued, and the batching scheduler
 * takes cancelled work out of its queue, so an abandoned request costs no model time. It also carries how the
 * request asked to be scheduled: its priority level and its own deadline.
 */
public final class RequestWork {

    /** The priority of a request that names none: the model's default level (glow.batching.default-priority). */
    public static final int DEFAULT_PRIORITY = 0;

    private final List<CompletableFuture<?>> jobs = new ArrayList<>();
    private boolean cancelled;
    private int priority = DEFAULT_PRIORITY;
    private long deadlineNanos;
    private boolean hasDeadline;

    /** Work that belongs to no request (the command line, tests): never cancelled. */
    public static RequestWork detached() {
        return new RequestWork();
    }

    /** Remembers {@code job} as this request's; cancels it at once if the request has already ended. */
    public synchronized <T> CompletableFuture<T> track(CompletableFuture<T> job) {
        if (cancelled) {
            job.cancel(false);
        } else {
            jobs.add(job);
        }
        return job;
    }

    /** Drops every job of the request, queued or to come. */
    public synchronized void cancel() {
        cancelled = true;
        jobs.forEach(j -> j.cancel(false));
    }

    public synchronized boolean cancelled() {
        return cancelled;
    }

    /** 1 is the highest level; {@link #DEFAULT_PRIORITY} the model's default. The scheduler checks the range. */
    public synchronized RequestWork priority(int level) {
        this.priority = level;
        return this;
    }

    public synchronized int priority() {
        return priority;
    }

    /**
     * The request's own deadline, {@code timeoutNanos} from now, kept if earlier than one set before (a client's
     * gRPC deadline and its {@code timeout} parameter: the earlier wins). Work still queued then is dropped
     * uncomputed; the service's own request timeout applies as well.
     */
    public synchronized RequestWork timeout(long timeoutNanos) {
        long at = System.nanoTime() + Math.max(0, timeoutNanos);
        if (!hasDeadline || at - deadlineNanos < 0) {
            deadlineNanos = at;
            hasDeadline = true;
        }
        return this;
    }

    /** The deadline as {@link System#nanoTime()} reads it, if the request set one. */
    synchronized java.util.OptionalLong deadline() {
        return hasDeadline ? java.util.OptionalLong.of(deadlineNanos) : java.util.OptionalLong.empty();
    }
}
