package dev.glowserve.runtime;

import dev.glowserve.flow.GlowConfig;

/**
 * A request that cannot be carried out as given, with a message that says what to fix: the service's one client-error
 * type, thrown wherever input is checked (the API's parsers, the latent service, the registry, the OOD scores). Its
 * kind carries the HTTP status; {@code api/ProblemHandler} turns it into problem+json on /v1 and {@code {"error"}} on
 * /v2 in one place. {@code type} is problem+json's short name of the problem, {@code field} the input at fault where one
 * is named (null otherwise).
 */
public final class ClientError extends RuntimeException {

    /** What is wrong, and the HTTP status that says so. */
    public enum Kind {
        /** A field missing, null or unreadable. */
        MALFORMED(400),
        /** A body or upload over its limit. */
        TOO_LARGE(413),
        /** Well-formed but unusable: out of range, the wrong shape, a model that cannot do it. */
        UNPROCESSABLE(422);

        private final int status;

        Kind(int status) {
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    private final Kind kind;
    private final String type;
    private final String field;

    private ClientError(Kind kind, String type, String field, String message) {
        // no stack trace: a client's mistake is not a bug, and an overloaded service can see many
        super(message, null, false, false);
        this.kind = kind;
        this.type = type;
        this.field = field;
    }

    /** Malformed input: a field missing or null, bad base64, not JSON. */
    public static ClientError malformed(String message) {
        return new ClientError(Kind.MALFORMED, "malformed-request", null, message);
    }

    /** Well-formed but unusable input, of the kind {@code type} names. */
    public static ClientError unprocessable(String type, String message) {
        return new ClientError(Kind.UNPROCESSABLE, type, null, message);
    }

    /** A body or upload larger than its limit. */
    public static ClientError tooLarge(String message) {
        return new ClientError(Kind.TOO_LARGE, "payload-too-large", null, message);
    }

    /** {@code field} outside {@code [min, max]} (NaN is outside). */
    public static void range(String field, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw outOfRange(field, field + " = " + value + " is outside " + min + ".." + max);
        }
    }

    public static void range(String field, long value, long min, long max) {
        if (value < min || value > max) {
            throw outOfRange(field, field + " = " + value + " is outside " + min + ".." + max);
        }
    }

    /**
     * A class id as a request gives it, checked against {@code model}'s classes: absent stays absent (where the model
     * can do without); a class on an unconditional model, or one out of range, is refused naming {@code field}.
     */
    public static Integer checkedClass(GlowConfig config, String model, String field, Integer value) {
        if (value == null) {
            return null;
        }
        if (!config.conditional()) {
            throw outOfRange(field, field + ": model '" + model + "' is unconditional and takes no class");
        }
        range(field, value, 0, config.numClasses() - 1);
        return value;
    }

    private static ClientError outOfRange(String field, String message) {
        return new ClientError(Kind.UNPROCESSABLE, "out-of-range", field, message);
    }

    public Kind kind() {
        return kind;
    }

    /** The HTTP status the kind carries. */
    public int status() {
        return kind.status();
    }

    /** A short name of the kind of problem (problem+json's type). */
    public String type() {
        return type;
    }

    /** The input at fault, or null where the message names it only in words. */
    public String field() {
        return field;
    }
}
