package dev.glowserve.api;

/** The request body passed glow.limits.max-request-size (HTTP 413). */
public class PayloadTooLargeException extends RuntimeException {

    public PayloadTooLargeException(long limit) {
        super("request body is larger than the limit of " + limit + " bytes (glow.limits.max-request-size)");
    }
}
