package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every tensor of a model under its rosinality/glow-pytorch {@code state_dict} name, in one
 * long-lived manager. Layers keep references to these arrays and the values only ever change in
 * place, so {@link #version()} tells caches when to rebuild.
 */
public final class FlowParameters implements AutoCloseable {

    /** A tensor and whether the optimizer trains it (buffers such as masks are not trained). */
    public record Entry(NDArray array, boolean trainable) {}

    private final NDManager manager;
    private final DataType dataType;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final AtomicLong version = new AtomicLong();

    public FlowParameters(NDManager manager, DataType dataType) {
        if (dataType != DataType.FLOAT32 && dataType != DataType.FLOAT64) {
            throw new IllegalArgumentException("model data type must be float32 or float64, got " + dataType);
        }
        this.manager = manager;
        this.dataType = dataType;
    }

    public NDManager manager() {
        return manager;
    }

    public DataType dataType() {
        return dataType;
    }

    /** Registers a floating-point tensor holding {@code values} (row-major). */
    public NDArray add(String name, Shape shape, double[] values, boolean trainable) {
        if (values.length != shape.size()) {
            throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + shape);
        }
        return put(name, persistent(Tensors.create(manager, values, shape, dataType)), trainable);
    }

    public NDArray zeros(String name, Shape shape, boolean trainable) {
        return put(name, persistent(manager.zeros(shape, dataType)), trainable);
    }

    /** Registers a non-trainable byte flag (ActNorm's {@code initialized}). */
    public NDArray flag(String name, boolean value) {
        NDArray array = manager.create(java.nio.ByteBuffer.wrap(new byte[] {(byte) (value ? 1 : 0)}), new Shape(), DataType.UINT8);
        return put(name, persistent(array), false);
    }

    private NDArray put(String name, NDArray array, boolean trainable) {
        if (entries.containsKey(name)) {
            throw new IllegalStateException("duplicate parameter " + name);
        }
        array.setName(name);
        entries.put(name, new Entry(array, trainable));
        return array;
    }

    /** Keeps an array out of any {@link NDScope} that happens to be open while it is made. */
    static NDArray persistent(NDArray array) {
        NDScope.unregister(array);
        return array;
    }

    public NDArray get(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no parameter " + name);
        }
        return e.array();
    }

    public Map<String, Entry> entries() {
        return Collections.unmodifiableMap(entries);
    }

    /** Number of trainable scalars. */
    public long trainableCount() {
        return entries.values().stream().filter(Entry::trainable).mapToLong(e -> e.array().size()).sum();
    }

    public long version() {
        return version.get();
    }

    /** Call after any in-place change of values: cached weights (W, W⁻¹, folded convs) rebuild. */
    public void markUpdated() {
        version.incrementAndGet();
    }

    /** Turns on gradient recording for every trainable tensor. */
    public void requireGradients() {
        entries.values().stream().filter(Entry::trainable).forEach(e -> e.array().setRequiresGradient(true));
    }

    @Override
    public void close() {
        manager.close();
    }
}
