package dev.glowserve.api;

import tools.jackson.databind.node.ArrayNode;

import java.nio.ByteBuffer;

/** A tensor's values, row-major, in the primitive array of its datatype; each kind writes itself to the wire. */
sealed interface V2Values {
    V2Datatype datatype();

    int count();

    /** Little-endian, unpadded, as the binary extension carries it. */
    void writeBinary(ByteBuffer out);

    /** As the flat JSON array of {@code data}. */
    void writeJson(ArrayNode out);

    record Bools(boolean[] values) implements V2Values {
        public V2Datatype datatype() {
            return V2Datatype.BOOL;
        }

        public int count() {
            return values.length;
        }

        public void writeBinary(ByteBuffer out) {
            for (boolean v : values) {
                out.put((byte) (v ? 1 : 0));
            }
        }

        public void writeJson(ArrayNode out) {
            for (boolean v : values) {
                out.add(v);
            }
        }
    }

    record Bytes(byte[] values) implements V2Values {
        public V2Datatype datatype() {
            return V2Datatype.UINT8;
        }

        public int count() {
            return values.length;
        }

        public void writeBinary(ByteBuffer out) {
            out.put(values);
        }

        public void writeJson(ArrayNode out) {
            for (byte v : values) {
                out.add(v & 0xff);
            }
        }
    }

    record Longs(long[] values) implements V2Values {
        public V2Datatype datatype() {
            return V2Datatype.INT64;
        }

        public int count() {
            return values.length;
        }

        public void writeBinary(ByteBuffer out) {
            out.asLongBuffer().put(values);
            out.position(out.position() + values.length * 8);
        }

        public void writeJson(ArrayNode out) {
            for (long v : values) {
                out.add(v);
            }
        }
    }

    record Floats(float[] values) implements V2Values {
        public V2Datatype datatype() {
            return V2Datatype.FP32;
        }

        public int count() {
            return values.length;
        }

        public void writeBinary(ByteBuffer out) {
            out.asFloatBuffer().put(values);
            out.position(out.position() + values.length * 4);
        }

        public void writeJson(ArrayNode out) {
            for (float v : values) {
                out.add(v);
            }
        }
    }

    record Doubles(double[] values) implements V2Values {
        public V2Datatype datatype() {
            return V2Datatype.FP64;
        }

        public int count() {
            return values.length;
        }

        public void writeBinary(ByteBuffer out) {
            out.asDoubleBuffer().put(values);
            out.position(out.position() + values.length * 8);
        }

        public void writeJson(ArrayNode out) {
            for (double v : values) {
                out.add(v);
            }
        }
    }
}
