package dev.glowserve.data;

/** Unusable input data, with one message naming the file and what is wrong. */
public class DataException extends RuntimeException {

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
