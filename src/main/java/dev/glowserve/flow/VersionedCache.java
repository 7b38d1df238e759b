package dev.glowserve.flow;

import java.util.function.Supplier;

/**
 * A value derived from the parameters (assembled W and W⁻¹, folded convolutions), rebuilt only
 * when {@link FlowParameters#version()} moves. An old value that holds native memory is closed when replaced.
 */
final class VersionedCache<T> {

    private record Held<T>(long version, T value) {}

    private final FlowParameters params;
    private volatile Held<T> held;

    VersionedCache(FlowParameters params) {
        this.params = params;
    }

    T get(Supplier<T> build) {
        Held<T> h = held;
        long v = params.version();
        if (h != null && h.version() == v) {
            return h.value();
        }
        synchronized (this) {
            h = held;
            if (h != null && h.version() == v) {
                return h.value();
            }
            T value = build.get();
            if (h != null) {
                close(h.value());
            }
            held = new Held<>(v, value);
            return value;
        }
    }

    /** Closes the held value, if any; the next {@link #get} builds a new one. */
    synchronized void clear() {
        Held<T> h = held;
        held = null;
        if (h != null) {
            close(h.value());
        }
    }

    private static void close(Object value) {
        if (value instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
