package dev.glowserve.serving;

/** Why the scheduler did not (or will not) run a request: each maps to one HTTP status. */
public final class Overload {

    private Overload() {}

    /** The model's queue is full: try again after {@link #retryAfterSeconds()} (HTTP 429). */
    public static final class QueueFull extends RuntimeException {
        private final long retryAfterSeconds;

        public QueueFull(String model, int capacity, long retryAfterSeconds) {
            // no stack trace: under overload thousands are thrown per second and none is a bug
            super("model '" + model + "' has " + capacity + " requests queued, its limit; retry after "
                    + retryAfterSeconds + " s", null, false, false);
            this.retryAfterSeconds = retryAfterSeconds;
        }

        public long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    /** The request waited in the queue past its deadline and was dropped uncomputed (HTTP 503). */
    public static final class DeadlineExceeded extends RuntimeException {
        public DeadlineExceeded(String model, long waitedMillis, boolean own) {
            super("request waited " + waitedMillis + " ms for model '" + model + "', past "
                    + (own ? "the deadline it set (its timeout, or its gRPC deadline)" : "the service's request timeout (glow.batching.request-timeout)")
                    + "; it was not computed", null, false, false);
        }
    }

    /** The service is shutting down and takes no new work (HTTP 503). */
    public static final class ShuttingDown extends RuntimeException {
        public ShuttingDown(String model) {
            super("model '" + model + "' is shutting down and takes no new requests", null, false, false);
        }
    }
}
