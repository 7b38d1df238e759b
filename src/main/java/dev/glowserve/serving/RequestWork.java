package dev.glowserve.serving;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The model work one request has queued, so that all of it is dropped when the request ends first (its client
 * left, it timed out): work queued after that is cancelled as it is queued. The batching scheduler skips cancelled
 * work, so an abandoned request costs no model time.
 */
public final class RequestWork {

    private final List<CompletableFuture<?>> jobs = new ArrayList<>();
    private boolean cancelled;

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
}
