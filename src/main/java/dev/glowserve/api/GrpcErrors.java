package dev.glowserve.api;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * An exception as a gRPC status, through the table REST renders from ({@link ServiceError}): bad input
 * INVALID_ARGUMENT, an unknown model NOT_FOUND, a full queue RESOURCE_EXHAUSTED (with a {@code retry-after}
 * trailer), a deadline passed in the queue DEADLINE_EXCEEDED, a model not ready or the service stopping UNAVAILABLE.
 * A client's mistake is never UNKNOWN or INTERNAL.
 */
final class GrpcErrors {

    static final Metadata.Key<String> RETRY_AFTER = Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);

    private GrpcErrors() {}

    static StatusRuntimeException of(Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        ServiceError error = ServiceError.of(e);
        Metadata trailers = new Metadata();
        if (error.retryAfterSeconds() != null) {
            trailers.put(RETRY_AFTER, Long.toString(error.retryAfterSeconds()));
        }
        return code(error).withDescription(error.detail()).asRuntimeException(trailers);
    }

    private static Status code(ServiceError e) {
        return switch (e.status()) {
            case 400, 422 -> Status.INVALID_ARGUMENT;
            case 413 -> Status.RESOURCE_EXHAUSTED;
            case 401 -> Status.UNAUTHENTICATED;
            case 403 -> Status.PERMISSION_DENIED;
            case 404 -> Status.NOT_FOUND;
            case 409 -> Status.FAILED_PRECONDITION;
            case 429 -> Status.RESOURCE_EXHAUSTED;
            case 503 -> e.type().equals("deadline-exceeded") || e.type().equals("timeout") ? Status.DEADLINE_EXCEEDED : Status.UNAVAILABLE;
            default -> Status.INTERNAL;
        };
    }
}
