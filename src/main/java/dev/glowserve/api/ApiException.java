package dev.glowserve.api;

import org.springframework.http.HttpStatus;

/** A client error with its HTTP status, problem type and a detail that says what to fix. */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final String type;

    public ApiException(HttpStatus status, String type, String detail) {
        super(detail);
        this.status = status;
        this.type = type;
    }

    public HttpStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    /** Well-formed but unusable input: out of range, wrong shape, not a PNG (422). */
    public static ApiException unprocessable(String type, String detail) {
        return new ApiException(HttpStatus.UNPROCESSABLE_CONTENT, type, detail);
    }

    /** Malformed input: missing field, bad base64 (400). */
    public static ApiException badRequest(String type, String detail) {
        return new ApiException(HttpStatus.BAD_REQUEST, type, detail);
    }
}
