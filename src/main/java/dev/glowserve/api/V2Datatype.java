package dev.glowserve.api;

import tools.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The datatypes glow-serve's models take and give: their size in bytes, and how their values are read from the
 * binary extension (little-endian) and from JSON. The one table of the datatypes; {@link V2Values} writes them back.
 */
enum V2Datatype {
    BOOL(1, (in, n) -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.get() != 0;
        }
        return new V2Values.Bools(v);
    }, (flat, name) -> {
        boolean[] v = new boolean[flat.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = V2Tensors.flag(flat.get(i), "input '" + name + "'[" + i + "]");
        }
        return new V2Values.Bools(v);
    }),
    UINT8(1, (in, n) -> {
        byte[] v = new byte[n];
        in.get(v);
        return new V2Values.Bytes(v);
    }, (flat, name) -> {
        byte[] v = new byte[flat.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode x = flat.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0 || x.intValue() > 255) {
                throw V2Tensors.bad("input '" + name + "'[" + i + "] = " + V2Tensors.brief(x) + " is not a UINT8 (0..255)");
            }
            v[i] = (byte) x.intValue();
        }
        return new V2Values.Bytes(v);
    }),
    INT64(8, (in, n) -> {
        long[] v = new long[n];
        in.asLongBuffer().get(v);
        return new V2Values.Longs(v);
    }, (flat, name) -> {
        long[] v = new long[flat.size()];
        for (int i = 0; i < v.length; i++) {
            JsonNode x = flat.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToLong()) {
                throw V2Tensors.bad("input '" + name + "'[" + i + "] = " + V2Tensors.brief(x) + " is not an INT64");
            }
            v[i] = x.longValue();
        }
        return new V2Values.Longs(v);
    }),
    FP32(4, (in, n) -> {
        float[] v = new float[n];
        in.asFloatBuffer().get(v);
        return new V2Values.Floats(v);
    }, (flat, name) -> {
        float[] v = new float[flat.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) V2Tensors.number(flat.get(i), name, i);
        }
        return new V2Values.Floats(v);
    }),
    FP64(8, (in, n) -> {
        double[] v = new double[n];
        in.asDoubleBuffer().get(v);
        return new V2Values.Doubles(v);
    }, (flat, name) -> {
        double[] v = new double[flat.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = V2Tensors.number(flat.get(i), name, i);
        }
        return new V2Values.Doubles(v);
    });

    final int bytes;
    private final java.util.function.BiFunction<ByteBuffer, Integer, V2Values> fromBinary;
    private final java.util.function.BiFunction<List<JsonNode>, String, V2Values> fromJson;

    V2Datatype(int bytes, java.util.function.BiFunction<ByteBuffer, Integer, V2Values> fromBinary,
             java.util.function.BiFunction<List<JsonNode>, String, V2Values> fromJson) {
        this.bytes = bytes;
        this.fromBinary = fromBinary;
        this.fromJson = fromJson;
    }

    /** {@code count} values from the binary extension's little-endian bytes. */
    V2Values read(ByteBuffer in, int count) {
        return fromBinary.apply(in, count);
    }

    /** The values of input {@code name}, flattened from its JSON {@code data}, each checked against this datatype. */
    V2Values read(List<JsonNode> flat, String name) {
        return fromJson.apply(flat, name);
    }

    static V2Datatype of(String name, String tensor) {
        for (V2Datatype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        throw V2Tensors.bad("input '" + tensor + "': datatype '" + name + "' is not one of BOOL, UINT8, INT64, FP32, FP64");
    }
}
