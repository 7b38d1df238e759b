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
 *
 * <p>Over 300 lines because JSON data (flat or nested) and the binary extension, read and written, are the wire
 * format's four paths, each bounded before it allocates.
 */
final class V2Tensors {

    /** An input tensor: its declared datatype and shape, and its values (of that datatype). */
    record Tensor(String name, V2Datatype datatype, long[] shape, V2Values values) {
        int count() {
            return values.count();
        }

        byte[] bytes() {
            return ((V2Values.Bytes) checked(V2Datatype.UINT8)).values();
        }

        long[] longs() {
            return ((V2Values.Longs) checked(V2Datatype.INT64)).values();
        }

        float[] floats() {
            return ((V2Values.Floats) checked(V2Datatype.FP32)).values();
        }

        /** The values, which the request checks made sure are of {@code type} before a model reads them. */
        private V2Values checked(V2Datatype type) {
            if (values.datatype() != type) {
                throw new IllegalStateException("input '" + name + "' is " + values.datatype() + ", not " + type);
            }
            return values;
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
        JsonNode root = header(json, body, jsonEnd, headerLength != null);
        String id = root.has("id") ? text(root.get("id"), "id") : null;
        JsonNode inputs = root.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw bad("\"inputs\" must be a non-empty array of tensors");
        }
        Map<String, Tensor> byName = new LinkedHashMap<>();
        ByteBuffer binary = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN).position(jsonEnd);
        for (JsonNode in : inputs) {
            Tensor t = input(in, binary, byName.keySet());
            byName.put(t.name(), t);
        }
        if (binary.hasRemaining()) {
            throw bad("the body has " + binary.remaining() + " bytes after the tensors its header announces");
        }
        JsonNode parameters = root.path("parameters");
        if (!parameters.isMissingNode() && !parameters.isObject()) {
            throw bad("\"parameters\" must be an object");
        }
        JsonNode binaryOutputs = parameters.get("binary_data_output");
        return new Request(id, byName, outputs(root.get("outputs")), binaryOutputs != null && flag(binaryOutputs, "binary_data_output"),
                parameters.isObject() ? parameters : JsonNodeFactory.instance.objectNode());
    }

    /** The JSON header: an object of the protocol's fields only. */
    private static JsonNode header(ObjectMapper json, byte[] body, int length, boolean binaryFollows) {
        JsonNode root;
        try {
            root = json.readTree(new String(body, 0, length, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw bad("the request is not valid JSON" + (binaryFollows ? " in its first " + length + " bytes (" + HEADER_LENGTH + ")" : ""));
        }
        if (root == null || !root.isObject()) {
            throw bad("the request must be a JSON object with \"inputs\"");
        }
        onlyFields(root, "the request", "id", "parameters", "inputs", "outputs");
        return root;
    }

    /**
     * One input: its name, datatype and shape, its values from {@code data} or, with {@code binary_data_size}, from
     * {@code binary} (read up to there); refused if {@code seen} holds its name. Its size is bounded before anything is
     * allocated for it.
     */
    private static Tensor input(JsonNode in, ByteBuffer binary, java.util.Set<String> seen) {
        if (!in.isObject()) {
            throw bad("every entry of \"inputs\" must be an object with name, datatype, shape and data");
        }
        String name = text(in.get("name"), "an input's name");
        onlyFields(in, "input '" + name + "'", "name", "shape", "datatype", "parameters", "data");
        if (seen.contains(name)) {
            throw bad("input '" + name + "' is given twice");
        }
        V2Datatype type = V2Datatype.of(text(in.get("datatype"), "input '" + name + "': datatype"), name);
        long[] shape = shape(in.get("shape"), name);
        long count = count(shape, name);
        JsonNode size = in.path("parameters").get("binary_data_size");
        if (size == null) {
            JsonNode values = in.get("data");
            if (values == null) {
                throw bad("input '" + name + "' has no \"data\" (nor parameters.binary_data_size)");
            }
            List<JsonNode> flat = new ArrayList<>((int) count);
            flatten(values, flat, name, (int) count);
            if (flat.size() != count) {
                throw bad("input '" + name + "': " + flat.size() + " values for a shape of " + count);
            }
            return new Tensor(name, type, shape, type.read(flat, name));
        }
        long bytes = nonNegative(size, "input '" + name + "': binary_data_size");
        if (bytes != count * type.bytes) {
            throw bad("input '" + name + "': binary_data_size is " + bytes + " bytes but shape "
                    + java.util.Arrays.toString(shape) + " of " + type + " needs " + count * type.bytes);
        }
        if (bytes > binary.remaining()) {
            throw bad("input '" + name + "': " + bytes + " bytes of binary data announced, " + binary.remaining()
                    + " left in the body");
        }
        if (in.has("data")) {
            throw bad("input '" + name + "' has both binary data and \"data\"");
        }
        ByteBuffer slice = binary.slice(binary.position(), (int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        binary.position(binary.position() + (int) bytes);
        return new Tensor(name, type, shape, type.read(slice, (int) count));
    }

    /** The outputs the client asked for, in its order (none: all of them). */
    private static List<Requested> outputs(JsonNode requested) {
        List<Requested> outputs = new ArrayList<>();
        if (requested == null) {
            return outputs;
        }
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
        return outputs;
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

    static boolean flag(JsonNode n, String what) {
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
    static String brief(JsonNode n) {
        String s = n.toString();
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    /** The number of values {@code shape} holds, refused before anything is allocated if it is negative or too large. */
    static int count(long[] shape, String name) {
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw bad("input '" + name + "': shape " + java.util.Arrays.toString(shape) + " has a negative size");
            }
            count = d == 0 || count <= Integer.MAX_VALUE / d ? count * d : Long.MAX_VALUE; // no overflow, however large
        }
        if (count > Integer.MAX_VALUE / 8) {
            throw bad("input '" + name + "': shape " + java.util.Arrays.toString(shape) + " is too large");
        }
        return (int) count;
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

    static double number(JsonNode x, String name, int i) {
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
    record Output(String name, long[] shape, V2Values values) {
        V2Datatype datatype() {
            return values.datatype();
        }
    }

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
                ByteBuffer bytes = ByteBuffer.allocate(o.values().count() * o.datatype().bytes).order(ByteOrder.LITTLE_ENDIAN);
                o.values().writeBinary(bytes);
                t.putObject("parameters").put("binary_data_size", bytes.capacity());
                blobs.add(bytes.array());
            } else {
                o.values().writeJson(t.putArray("data"));
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
}
