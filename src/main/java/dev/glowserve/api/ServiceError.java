package dev.glowserve.api;

import dev.glowserve.data.DataException;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ModelRegistry;
import dev.glowserve.serving.Overload;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * What an exception means to a client: its HTTP status, problem type, detail, the field at fault and when to retry.
 * The one table every protocol renders from: problem+json on {@code /v1}, {@code {"error"}} on {@code /v2}, a status
 * code on gRPC ({@link dev.glowserve.api.grpc.GrpcErrors}). Nothing internal reaches {@code detail}.
 *
 * @param retryAfterSeconds the Retry-After a client should honour, or null
 */
public record ServiceError(int status, String type, String detail, String field, Long retryAfterSeconds) {

    private static final Logger LOG = LoggerFactory.getLogger(ServiceError.class);

    static final String CANCELLED = "the request ended before its answer (its timeout passed, it was cancelled, or its client left); "
            + "its queued work was dropped";

    /** {@code e} (unwrapped from the futures it travelled through) as a client sees it. */
    public static ServiceError of(Throwable e) {
        Throwable t = unwrap(e);
        if (t instanceof ClientError c) {
            return new ServiceError(c.status(), c.type(), c.getMessage(), c.field(), null);
        } else if (t instanceof DataException) {
            return of(422, "invalid-image", t);
        } else if (t instanceof ModelRegistry.UnknownModel) {
            return of(404, "unknown-model", t);
        } else if (t instanceof LatentService.OutOfDistributionRejected) {
            return of(422, "out-of-distribution", t);
        } else if (t instanceof LatentService.NotCalibrated) {
            return of(409, "not-calibrated", t);
        } else if (t instanceof ModelRegistry.ModelUnavailable) {
            return of(503, "model-unavailable", t);
        } else if (t instanceof Overload.QueueFull q) {
            return new ServiceError(429, "queue-full", q.getMessage(), null, q.retryAfterSeconds());
        } else if (t instanceof Overload.DeadlineExceeded d) {
            return new ServiceError(503, "deadline-exceeded", d.getMessage(), null, 1L);
        } else if (t instanceof Overload.ShuttingDown) {
            return of(503, "shutting-down", t);
        } else if (t instanceof ModelRunner.NonFiniteOutputException) {
            LOG.warn("422 from the model: {}", t.getMessage());
            return of(422, "invalid-latents", t);
        } else if (t instanceof CancellationException) {
            return new ServiceError(503, "timeout", CANCELLED, null, null);
        } else if (t instanceof IllegalArgumentException) {
            // input that passed the API's own checks but not the model's: worth a look
            LOG.warn("422 from the model: {}", t.getMessage());
            return of(422, "invalid-input", t);
        }
        LOG.error("unexpected error", t);
        return new ServiceError(500, "internal", "internal error; the service logged it", null, null);
    }

    private static ServiceError of(int status, String type, Throwable t) {
        return new ServiceError(status, type, t.getMessage(), null, null);
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
