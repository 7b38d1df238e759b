package dev.glowserve.artifact;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes safetensors through DJL ({@link NDList#decode}, {@link NDList.Encoding#SAFETENSORS}).
 * DJL trusts the header's offsets, so every file is validated here first: header length, JSON,
 * dtypes, shapes, and offsets that tile the data section exactly.
 */
public final class Safetensors {

    /** A tensor entry of the header. */
    public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {}

    private static final Map<String, Integer> DTYPE_BYTES = Map.of(
            "F64", 8, "F32", 4, "F16", 2, "BF16", 2, "I64", 8, "I32", 4, "I8", 1, "U8", 1, "BOOL", 1);
    private static final long MAX_HEADER = 100L << 20;
    private static final JsonMapper STRICT_JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private Safetensors() {}

    /** Validated header entries, in file order. */
    public static List<TensorInfo> validate(byte[] file, String label) {
        return validate(file, file.length, label);
    }

    /**
     * The length prefix and JSON header at the start of a file, read from {@code in} without reading on: the header
     * is at most 100 MiB, whatever the file's size.
     */
    public static byte[] readHeader(java.io.InputStream in, String label) throws IOException {
        byte[] prefix = in.readNBytes(8);
        if (prefix.length < 8) {
            throw new ArtifactException(label + ": not a safetensors file (only " + prefix.length + " bytes)");
        }
        long headerLength = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 2 || headerLength > MAX_HEADER) {
            throw new ArtifactException(label + ": not a safetensors file (header length " + headerLength + ")");
        }
        byte[] head = java.util.Arrays.copyOf(prefix, 8 + (int) headerLength);
        int read = in.readNBytes(head, 8, (int) headerLength);
        if (read < headerLength) {
            throw new ArtifactException(label + ": truncated in its header (" + (8 + read) + " bytes)");
        }
        return head;
    }

    /**
     * Validated header entries of a file of {@code fileSize} bytes that starts with {@code head} (the whole file, or
     * only its header from {@link #readHeader}): offsets must tile the file's data section exactly.
     */
    public static List<TensorInfo> validate(byte[] head, long fileSize, String label) {
        if (head.length < 8 + 2 || fileSize < head.length) {
            throw new ArtifactException(label + ": not a safetensors file (only " + Math.min(head.length, fileSize) + " bytes)");
        }
        long headerLength = ByteBuffer.wrap(head, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 2 || headerLength > MAX_HEADER || headerLength > head.length - 8) {
            throw new ArtifactException(label + ": not a safetensors file or truncated (header length "
                    + headerLength + ", file " + fileSize + " bytes)");
        }
        String json = new String(head, 8, (int) headerLength, StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = STRICT_JSON.readTree(json);
        } catch (JacksonException e) {
            throw new ArtifactException(label + ": the safetensors header is " + ModelArtifact.jsonProblem(e));
        }
        if (header == null || !header.isObject()) {
            throw new ArtifactException(label + ": the safetensors header is not a JSON object");
        }
        long dataLength = fileSize - 8 - headerLength;
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            String name = field.getKey();
            if ("__metadata__".equals(name)) {
                continue;
            }
            tensors.add(entry(label, name, field.getValue()));
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin));
        long expected = 0;
        for (TensorInfo t : byOffset) {
            if (t.begin() != expected) {
                throw new ArtifactException(label + ": tensor '" + t.name() + "' starts at byte " + t.begin()
                        + " of the data section, expected " + expected + " (overlapping or gapped offsets)");
            }
            if (t.end() > dataLength) {
                throw new ArtifactException(label + ": tensor '" + t.name() + "' ends at byte " + t.end()
                        + " but the data section has only " + dataLength + " bytes (truncated file?)");
            }
            expected = t.end();
        }
        if (expected != dataLength) {
            throw new ArtifactException(label + ": " + (dataLength - expected) + " bytes after the last tensor");
        }
        return tensors;
    }

    private static TensorInfo entry(String label, String name, JsonNode node) {
        String where = label + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new ArtifactException(where + " has no header object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isString() || !DTYPE_BYTES.containsKey(dtypeNode.asString())) {
            throw new ArtifactException(where + " has an unsupported dtype (one of " + new java.util.TreeSet<>(DTYPE_BYTES.keySet()) + ")");
        }
        String dtype = dtypeNode.asString();
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray() || shapeNode.size() > 8) {
            throw new ArtifactException(where + " has no valid shape");
        }
        long[] shape = new long[shapeNode.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToInt() || d.intValue() < 0) {
                throw new ArtifactException(where + " has a dimension that is not an integer in 0.." + Integer.MAX_VALUE);
            }
            shape[i] = d.intValue();
            count = count > Long.MAX_VALUE / Math.max(1, shape[i]) ? Long.MAX_VALUE : count * shape[i];
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw new ArtifactException(where + " has no valid data_offsets");
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        long bytes = count > Long.MAX_VALUE / 8 ? Long.MAX_VALUE : count * DTYPE_BYTES.get(dtype);
        if (begin < 0 || end < begin || end - begin != bytes) {
            throw new ArtifactException(where + " has data_offsets [" + begin + ", " + end + "] but " + dtype
                    + " " + java.util.Arrays.toString(shape) + " needs " + bytes + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** Reads and validates a file; the arrays are made in {@code manager}, keyed by name in file order. */
    public static Map<String, NDArray> read(Path path, NDManager manager) {
        byte[] bytes;
        try {
            bytes = ArtifactSource.folder(path.toAbsolutePath().getParent())
                    .read(path.getFileName().toString(), Integer.MAX_VALUE - 16);
        } catch (IOException e) {
            throw new ArtifactException(path + ": cannot read (" + ModelArtifact.reason(e) + ")", e);
        }
        return read(bytes, path.toString(), manager);
    }

    public static Map<String, NDArray> read(byte[] bytes, String label, NDManager manager) {
        List<TensorInfo> infos = validate(bytes, label);
        NDList list;
        try {
            list = NDList.decode(manager, bytes);
        } catch (RuntimeException e) {
            throw new ArtifactException(label + ": cannot decode tensors", e);
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (NDArray a : list) {
            out.put(a.getName(), a);
        }
        if (out.size() != infos.size()) {
            list.close();
            throw new ArtifactException(label + ": decoded " + out.size() + " tensors, header lists " + infos.size());
        }
        return out;
    }

    /** Serialises named tensors (names from {@link NDArray#getName()}). */
    public static byte[] encode(NDList tensors) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try {
            tensors.encode(bos, NDList.Encoding.SAFETENSORS);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return bos.toByteArray();
    }
}
