package dev.glowserve.api;

import com.google.protobuf.ByteString;
import dev.glowserve.api.grpc.protocol.InferParameter;
import dev.glowserve.api.grpc.protocol.InferTensorContents;
import dev.glowserve.api.grpc.protocol.ModelInferRequest;
import dev.glowserve.api.grpc.protocol.ModelInferResponse;
import dev.glowserve.api.V2Tensors.Output;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Open Inference Protocol's gRPC messages to and from the tensors REST V2 reads and writes: typed
 * {@code contents} (each datatype in its own field) or {@code raw_input_contents} (little-endian, one per input), so
 * that both transports feed the models the same values. A request with raw inputs is answered with raw outputs, as
 * Triton does; one with typed contents, with typed contents. Every size is checked before it is allocated.
 */
final class GrpcTensors {

    private GrpcTensors() {}

    /** The request as REST V2's parser would give it. */
    static V2Tensors.Request request(ModelInferRequest r) {
        if (r.getInputsCount() == 0) {
            throw V2Tensors.bad("\"inputs\" must be a non-empty list of tensors");
        }
        boolean raw = r.getRawInputContentsCount() > 0;
        if (raw && r.getRawInputContentsCount() != r.getInputsCount()) {
            throw V2Tensors.bad("raw_input_contents has " + r.getRawInputContentsCount() + " entries for " + r.getInputsCount()
                    + " inputs: give one per input, in order");
        }
        Map<String, V2Tensors.Tensor> inputs = new LinkedHashMap<>();
        for (int i = 0; i < r.getInputsCount(); i++) {
            ModelInferRequest.InferInputTensor in = r.getInputs(i);
            String name = in.getName();
            if (inputs.containsKey(name)) {
                throw V2Tensors.bad("input '" + name + "' is given twice");
            }
            V2Datatype type = V2Datatype.of(in.getDatatype(), name);
            long[] shape = in.getShapeList().stream().mapToLong(Long::longValue).toArray();
            int count = V2Tensors.count(shape, name);
            V2Values values;
            if (raw) {
                if (in.hasContents()) {
                    throw V2Tensors.bad("input '" + name + "' has contents and raw_input_contents: give one of them");
                }
                ByteString bytes = r.getRawInputContents(i);
                if (bytes.size() != (long) count * type.bytes) {
                    throw V2Tensors.bad("input '" + name + "': raw_input_contents has " + bytes.size() + " bytes but shape "
                            + java.util.Arrays.toString(shape) + " of " + type + " needs " + (long) count * type.bytes);
                }
                values = type.read(bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN), count);
            } else {
                values = contents(in.getContents(), type, name, count);
            }
            inputs.put(name, new V2Tensors.Tensor(name, type, shape, values));
        }
        List<V2Tensors.Requested> outputs = r.getOutputsList().stream().map(o -> new V2Tensors.Requested(o.getName(), null)).toList();
        return new V2Tensors.Request(r.getId().isEmpty() ? null : r.getId(), inputs, outputs, false, parameters(r.getParametersMap()));
    }

    /** The values in the contents field of {@code type}; the other fields must be empty. */
    private static V2Values contents(InferTensorContents c, V2Datatype type, String name, int count) {
        int given = switch (type) {
            case BOOL -> c.getBoolContentsCount();
            case UINT8 -> c.getUintContentsCount();
            case INT64 -> c.getInt64ContentsCount();
            case FP32 -> c.getFp32ContentsCount();
            case FP64 -> c.getFp64ContentsCount();
        };
        int all = c.getBoolContentsCount() + c.getIntContentsCount() + c.getInt64ContentsCount() + c.getUintContentsCount()
                + c.getUint64ContentsCount() + c.getFp32ContentsCount() + c.getFp64ContentsCount() + c.getBytesContentsCount();
        if (given != all) {
            throw V2Tensors.bad("input '" + name + "' is " + type + ": its values go in " + field(type) + " only");
        }
        if (given != count) {
            throw V2Tensors.bad("input '" + name + "': " + given + " values for a shape of " + count);
        }
        return switch (type) {
            case BOOL -> {
                boolean[] v = new boolean[count];
                for (int i = 0; i < count; i++) {
                    v[i] = c.getBoolContents(i);
                }
                yield new V2Values.Bools(v);
            }
            case UINT8 -> {
                byte[] v = new byte[count];
                for (int i = 0; i < count; i++) {
                    int x = c.getUintContents(i);
                    if (x < 0 || x > 255) {
                        throw V2Tensors.bad("input '" + name + "'[" + i + "] = " + Integer.toUnsignedString(x) + " is not a UINT8 (0..255)");
                    }
                    v[i] = (byte) x;
                }
                yield new V2Values.Bytes(v);
            }
            case INT64 -> new V2Values.Longs(c.getInt64ContentsList().stream().mapToLong(Long::longValue).toArray());
            case FP32 -> {
                float[] v = new float[count];
                for (int i = 0; i < count; i++) {
                    v[i] = finite(c.getFp32Contents(i), name, i);
                }
                yield new V2Values.Floats(v);
            }
            case FP64 -> {
                double[] v = new double[count];
                for (int i = 0; i < count; i++) {
                    v[i] = finite(c.getFp64Contents(i), name, i);
                }
                yield new V2Values.Doubles(v);
            }
        };
    }

    private static String field(V2Datatype type) {
        return switch (type) {
            case BOOL -> "bool_contents";
            case UINT8 -> "uint_contents";
            case INT64 -> "int64_contents";
            case FP32 -> "fp32_contents";
            case FP64 -> "fp64_contents";
        };
    }

    private static float finite(float x, String name, int i) {
        return (float) finite((double) x, name, i);
    }

    private static double finite(double x, String name, int i) {
        if (!Double.isFinite(x)) {
            throw V2Tensors.bad("input '" + name + "'[" + i + "] = " + x + " is not a finite number");
        }
        return x;
    }

    /** The request's parameters as REST V2 carries them, a JSON object: priority, timeout, method, alpha. */
    private static ObjectNode parameters(Map<String, InferParameter> parameters) {
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        parameters.forEach((k, p) -> {
            switch (p.getParameterChoiceCase()) {
                case BOOL_PARAM -> out.put(k, p.getBoolParam());
                case INT64_PARAM -> out.put(k, p.getInt64Param());
                case STRING_PARAM -> out.put(k, p.getStringParam());
                case DOUBLE_PARAM -> out.put(k, p.getDoubleParam());
                case UINT64_PARAM -> out.put(k, java.math.BigInteger.valueOf(p.getUint64Param()).and(UNSIGNED_64));
                case PARAMETERCHOICE_NOT_SET -> throw V2Tensors.bad("parameter '" + k + "' has no value");
            }
        });
        return out;
    }

    private static final java.math.BigInteger UNSIGNED_64 = java.math.BigInteger.ONE.shiftLeft(64).subtract(java.math.BigInteger.ONE);

    /** The response: raw outputs when the request sent raw inputs, else typed contents. */
    static ModelInferResponse response(String model, String version, String id, List<Output> outputs, boolean raw) {
        ModelInferResponse.Builder r = ModelInferResponse.newBuilder().setModelName(model).setModelVersion(version);
        if (id != null) {
            r.setId(id);
        }
        for (Output o : outputs) {
            ModelInferResponse.InferOutputTensor.Builder t = r.addOutputsBuilder().setName(o.name()).setDatatype(o.datatype().name());
            for (long d : o.shape()) {
                t.addShape(d);
            }
            if (raw) {
                ByteBuffer bytes = ByteBuffer.allocate(o.values().count() * o.datatype().bytes).order(ByteOrder.LITTLE_ENDIAN);
                o.values().writeBinary(bytes);
                r.addRawOutputContents(ByteString.copyFrom(bytes.array()));
            } else {
                t.setContents(contents(o.values()));
            }
        }
        return r.build();
    }

    private static InferTensorContents contents(V2Values values) {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        if (values instanceof V2Values.Bools b) {
            for (boolean v : b.values()) {
                c.addBoolContents(v);
            }
        } else if (values instanceof V2Values.Bytes b) {
            for (byte v : b.values()) {
                c.addUintContents(v & 0xff);
            }
        } else if (values instanceof V2Values.Longs l) {
            for (long v : l.values()) {
                c.addInt64Contents(v);
            }
        } else if (values instanceof V2Values.Floats f) {
            for (float v : f.values()) {
                c.addFp32Contents(v);
            }
        } else if (values instanceof V2Values.Doubles d) {
            for (double v : d.values()) {
                c.addFp64Contents(v);
            }
        }
        return c.build();
    }
}
