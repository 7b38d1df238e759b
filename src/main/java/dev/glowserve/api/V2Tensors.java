package dev.glowserve.api;

import dev.glowserve.runtime.ClientError;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Open Inference Protocol's tensors on the wire: JSON {@code data} (flat or nested, row-major) and the binary
 * tensor data extension (a JSON header of {@code Inference-Header-Content-Length} bytes, then each binary tensor's
 * {@code binary_data_size} bytes in the header's order, little-endian, unpadded). Malformed requests are refused
 * with a message naming the tensor and what is wrong.
 */
final class V2Tensors {

    /** The datatypes glow-serve's models take and give, with their sizes in bytes. */
    enum Datatype {
        BOOL(1), UINT8(1), INT64(8), FP32(4), FP64(8);

        final int bytes;

        Datatype(int bytes) {
            this.bytes = bytes;
        }

        static Datatype of(String name, String tensor) {
            for (Datatype d : values()) {
                if (d.name().equals(name)) {
                    return d;
                }
            }
            throw bad("input '" + tensor + "': datatype '" + name + "' is not one of BOOL, UINT8, INT64, FP32, FP64");
        }
    }

    /** A tensor: row-major values in a primitive array (boolean[], byte[], long[], float[] or double[]). */
    record Tensor(String name, Datatype datatype, long[] shape, Object data) {
        int count() {
            return java.lang.reflect.Array.getLength(data);
        }
    }

    /** A parsed inference request: its id, inputs by name in order, requested outputs, and the binary default. */
    record Request(String id, Map<String, Tensor> inputs, List<Requested> outputs, boolean binaryOutputs, JsonNode parameters) {}

    /** An output the client asked for, and whether it wants it as binary data (null: the request's default). */
    record Requested(String name, Boolean binary) {}

    static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    private V2Tensors() {}

    static ClientError bad(String detail) {
        return ClientError.malformed(detail);
    }

    /** The request in {@code body}; {@code headerLength} the JSON header's length when binary data follows, else null. */
    static Request parse(ObjectMapper json, byte[] body, Long headerLength) {
        int jsonEnd = body.length;
        if (headerLength != null) {
            if (headerLength < 0 || headerLength > body.length) {
                throw bad(HEADER_LENGTH + " is " + headerLength + " but the body has " + body.length + " bytes");
            }
            jsonEnd = (int) (long) headerLength;
        }
        JsonNode root;
        try {
            root = json.readTree(new String(body, 0, jsonEnd, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw bad("the request is not valid JSON" + (headerLength == null ? "" : " in its first " + jsonEnd + " bytes (" + HEADER_LENGTH + ")"));
        }
        if (root == null || !root.isObject()) {
            throw bad("the request must be a JSON object with \"inputs\"");
        }
        onlyFields(root, "the request", "id", "parameters", "inputs", "outputs");
        String id = root.has("id") ? text(root.get("id"), "id") : null;
        JsonNode inputs = root.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw bad("\"inputs\" must be a non-empty array of tensors");
        }
        Map<String, Tensor> byName = new LinkedHashMap<>();
        int offset = jsonEnd;
        for (JsonNode in : inputs) {
            if (!in.isObject()) {
                throw bad("every entry of \"inputs\" must be an object with name, datatype, shape and data");
            }
            String name = text(in.get("name"), "an input's name");
            onlyFields(in, "input '" + name + "'", "name", "shape", "datatype", "parameters", "data");
            if (byName.containsKey(name)) {
                throw bad("input '" + name + "' is given twice");
            }
            Datatype type = Datatype.of(text(in.get("datatype"), "input '" + name + "': datatype"), name);
            long[] shape = shape(in.get("shape"), name);
            long count = 1;
            for (long d : shape) {
                count = d == 0 || count <= Integer.MAX_VALUE / d ? count * d : Long.MAX_VALUE; // no overflow, however large
            }
            if (count > Integer.MAX_VALUE / 8) {
                throw bad("input '" + name + "': shape " + java.util.Arrays.toString(shape) + " is too large");
            }
            JsonNode size = in.path("parameters").get("binary_data_size");
            Object data;
            if (size != null) {
                long bytes = nonNegative(size, "input '" + name + "': binary_data_size");
                if (bytes != count * type.bytes) {
                    throw bad("input '" + name + "': binary_data_size is " + bytes + " bytes but shape "
                            + java.util.Arrays.toString(shape) + " of " + type + " needs " + count * type.bytes);
                }
                if (offset + bytes > body.length) {
                    throw bad("input '" + name + "': " + bytes + " bytes of binary data announced, " + (body.length - offset)
                            + " left in the body");
                }
                data = fromBytes(body, offset, (int) count, type);
                offset += (int) bytes;
                if (in.has("data")) {
                    throw bad("input '" + name + "' has both binary data and \"data\"");
                }
            } else {
                JsonNode values = in.get("data");
                if (values == null) {
                    throw bad("input '" + name + "' has no \"data\" (nor parameters.binary_data_size)");
                }
                data = fromJson(values, (int) count, type, name);
            }
            byName.put(name, new Tensor(name, type, shape, data));
        }
        if (offset != body.length) {
            throw bad("the body has " + (body.length - offset) + " bytes after the tensors its header announces");
        }
        List<Requested> outputs = new ArrayList<>();
        JsonNode requested = root.get("outputs");
        if (requested != null) {
            if (!requested.isArray()) {
                throw bad("\"outputs\" must be an array");
            }
            for (JsonNode o : requested) {
                if (!o.isObject()) {
                    throw bad("every entry of \"outputs\" must be an object with a name");
                }
                String name = text(o.get("name"), "an output's name");
                onlyFields(o, "output '" + name + "'", "name", "parameters");
                JsonNode binary = o.path("parameters").get("binary_data");
                outputs.add(new Requested(name, binary == null ? null : flag(binary, "output '" + name + "': binary_data")));
            }
        }
        JsonNode parameters = root.path("parameters");
        if (!parameters.isMissingNode() && !parameters.isObject()) {
            throw bad("\"parameters\" must be an object");
        }
        JsonNode binaryOutputs = parameters.get("binary_data_output");
        return new Request(id, byName, outputs, binaryOutputs != null && flag(binaryOutputs, "binary_data_output"),
                parameters.isObject() ? parameters : JsonNodeFactory.instance.objectNode());
    }

    /**
     * Refuses a field the protocol does not define, naming it (a misspelt field would otherwise be ignored); what a
     * client adds goes in {@code parameters}, which the protocol leaves open.
     */
    static void onlyFields(JsonNode object, String where, String... allowed) {
        java.util.Set<String> known = java.util.Set.of(allowed);
        for (String field : object.propertyNames()) {
            if (!known.contains(field)) {
                throw bad(where + ": field '" + brief(field) + "' is not part of the protocol (fields: " + String.join(", ", allowed)
                        + "; extensions go in \"parameters\")");
            }
        }
    }

    private static String brief(String s) {
        return s.length() <= 40 && s.chars().allMatch(c -> c >= 0x20 && c < 0x7f) ? s : "(a long or unprintable name)";
    }

    private static String text(JsonNode n, String what) {
        if (n == null || !n.isString()) {
            throw bad(what + " must be a string");
        }
        return n.asString();
    }

    private static boolean flag(JsonNode n, String what) {
        if (!n.isBoolean()) {
            throw bad(what + " must be true or false");
        }
        return n.asBoolean();
    }

    /** A size or count: an integer from 0 to 2^63 - 1, whatever the JSON number's own range. */
    static long nonNegative(JsonNode n, String what) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0) {
            throw bad(what + " must be an integer from 0 to " + Long.MAX_VALUE + (n == null ? "" : ", is " + brief(n)));
        }
        return n.longValue();
    }

    /** A value as the client sent it, cut short: a number of a thousand digits is not echoed whole. */
    private static String brief(JsonNode n) {
        String s = n.toString();
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    private static long[] shape(JsonNode n, String name) {
        if (n == null || !n.isArray()) {
            throw bad("input '" + name + "': shape must be an array of sizes");
        }
        long[] shape = new long[n.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegative(n.get(i), "input '" + name + "': shape[" + i + "]");
        }
        return shape;
    }

    private static Object fromBytes(byte[] body, int offset, int count, Datatype type) {
        ByteBuffer b = ByteBuffer.wrap(body, offset, count * type.bytes).order(ByteOrder.LITTLE_ENDIAN);
        return switch (type) {
            case BOOL -> {
                boolean[] v = new boolean[count];
                for (int i = 0; i < count; i++) {
                    v[i] = b.get() != 0;
                }
                yield v;
            }
            case UINT8 -> {
                byte[] v = new byte[count];
                b.get(v);
                yield v;
            }
            case INT64 -> {
                long[] v = new long[count];
                b.asLongBuffer().get(v);
                yield v;
            }
            case FP32 -> {
                float[] v = new float[count];
                b.asFloatBuffer().get(v);
                yield v;
            }
            case FP64 -> {
                double[] v = new double[count];
                b.asDoubleBuffer().get(v);
                yield v;
            }
        };
    }

    private static Object fromJson(JsonNode values, int count, Datatype type, String name) {
        List<JsonNode> flat = new ArrayList<>(count);
        flatten(values, flat, name, count);
        if (flat.size() != count) {
            throw bad("input '" + name + "': " + flat.size() + " values for a shape of " + count);
        }
        return switch (type) {
            case BOOL -> {
                boolean[] v = new boolean[count];
                for (int i = 0; i < count; i++) {
                    v[i] = flag(flat.get(i), "input '" + name + "'[" + i + "]");
                }
                yield v;
            }
            case UINT8 -> {
                byte[] v = new byte[count];
                for (int i = 0; i < count; i++) {
                    JsonNode x = flat.get(i);
                    if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0 || x.intValue() > 255) {
                        throw bad("input '" + name + "'[" + i + "] = " + brief(x) + " is not a UINT8 (0..255)");
                    }
                    v[i] = (byte) x.intValue();
                }
                yield v;
            }
            case INT64 -> {
                long[] v = new long[count];
                for (int i = 0; i < count; i++) {
                    JsonNode x = flat.get(i);
                    if (!x.isIntegralNumber() || !x.canConvertToLong()) {
                        throw bad("input '" + name + "'[" + i + "] = " + brief(x) + " is not an INT64");
                    }
                    v[i] = x.longValue();
                }
                yield v;
            }
            case FP32 -> {
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    v[i] = (float) number(flat.get(i), name, i);
                }
                yield v;
            }
            case FP64 -> {
                double[] v = new double[count];
                for (int i = 0; i < count; i++) {
                    v[i] = number(flat.get(i), name, i);
                }
                yield v;
            }
        };
    }

    private static double number(JsonNode x, String name, int i) {
        if (!x.isNumber() || !Double.isFinite(x.doubleValue())) {
            throw bad("input '" + name + "'[" + i + "] = " + brief(x) + " is not a finite number");
        }
        return x.doubleValue();
    }

    private static void flatten(JsonNode n, List<JsonNode> out, String name, int limit) {
        if (n.isArray()) {
            for (JsonNode c : n) {
                flatten(c, out, name, limit);
                if (out.size() > limit) {
                    throw bad("input '" + name + "': more values than its shape holds (" + limit + ")");
                }
            }
        } else {
            out.add(n);
        }
    }

    // ------------------------------------------------------------------ responses

    /** An output tensor of a response. */
    record Output(String name, Datatype datatype, long[] shape, Object data) {}

    /** The response body and its media type, with the header length when binary data follows. */
    record Encoded(byte[] body, boolean binary, int headerLength) {}

    /** {@code outputs} in the response's order; each binary where the request asked for it. */
    static Encoded encode(ObjectMapper json, String model, String version, String id, List<Output> outputs, List<Boolean> binary) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("model_name", model);
        if (version != null) {
            root.put("model_version", version);
        }
        if (id != null) {
            root.put("id", id);
        }
        ArrayNode list = root.putArray("outputs");
        List<byte[]> blobs = new ArrayList<>();
        for (int i = 0; i < outputs.size(); i++) {
            Output o = outputs.get(i);
            ObjectNode t = list.addObject();
            t.put("name", o.name());
            t.put("datatype", o.datatype().name());
            ArrayNode shape = t.putArray("shape");
            for (long d : o.shape()) {
                shape.add(d);
            }
            if (binary.get(i)) {
                byte[] bytes = toBytes(o);
                t.putObject("parameters").put("binary_data_size", bytes.length);
                blobs.add(bytes);
            } else {
                putData(t.putArray("data"), o);
            }
        }
        byte[] header = json.writeValueAsBytes(root);
        if (blobs.isEmpty()) {
            return new Encoded(header, false, header.length);
        }
        int total = header.length + blobs.stream().mapToInt(b -> b.length).sum();
        ByteBuffer out = ByteBuffer.allocate(total);
        out.put(header);
        blobs.forEach(out::put);
        return new Encoded(out.array(), true, header.length);
    }

    private static byte[] toBytes(Output o) {
        Object d = o.data();
        int n = java.lang.reflect.Array.getLength(d);
        ByteBuffer b = ByteBuffer.allocate(n * o.datatype().bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (o.datatype()) {
            case BOOL -> {
                for (boolean v : (boolean[]) d) {
                    b.put((byte) (v ? 1 : 0));
                }
            }
            case UINT8 -> b.put((byte[]) d);
            case INT64 -> b.asLongBuffer().put((long[]) d);
            case FP32 -> b.asFloatBuffer().put((float[]) d);
            case FP64 -> b.asDoubleBuffer().put((double[]) d);
        }
        return b.array();
    }

    private static void putData(ArrayNode a, Output o) {
        switch (o.datatype()) {
            case BOOL -> {
                for (boolean v : (boolean[]) o.data()) {
                    a.add(v);
                }
            }
            case UINT8 -> {
                for (byte v : (byte[]) o.data()) {
                    a.add(v & 0xff);
                }
            }
            case INT64 -> {
                for (long v : (long[]) o.data()) {
                    a.add(v);
                }
            }
            case FP32 -> {
                for (float v : (float[]) o.data()) {
                    a.add(v);
                }
            }
            case FP64 -> {
                for (double v : (double[]) o.data()) {
                    a.add(v);
                }
            }
        }
    }
}
