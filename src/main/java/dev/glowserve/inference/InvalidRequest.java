package dev.glowserve.inference;

/**
 * A request the service cannot carry out as given, with a detail that says what to fix: malformed (a field missing
 * or null) or unprocessable (out of range, the wrong class, a model that cannot do it). The web layer answers
 * 400 or 422.
 */
public final class InvalidRequest extends RuntimeException {

    private final String type;
    private final boolean malformed;

    private InvalidRequest(String type, String detail, boolean malformed) {
        super(detail, null, false, false);
        this.type = type;
        this.malformed = malformed;
    }

    /** Well-formed but unusable: out of range, a class the path is not in, a model without classes. */
    public static InvalidRequest unprocessable(String type, String detail) {
        return new InvalidRequest(type, detail, false);
    }

    /** Malformed: a field missing or null. */
    public static InvalidRequest malformed(String detail) {
        return new InvalidRequest("malformed-request", detail, true);
    }

    /** A short name of the kind of problem (problem+json's type). */
    public String type() {
        return type;
    }

    public boolean malformed() {
        return malformed;
    }

    static void range(String field, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw unprocessable("out-of-range", field + " = " + value + " is outside " + min + ".." + max);
        }
    }

    static void range(String field, int value, int min, int max) {
        if (value < min || value > max) {
            throw unprocessable("out-of-range", field + " = " + value + " is outside " + min + ".." + max);
        }
    }
}
