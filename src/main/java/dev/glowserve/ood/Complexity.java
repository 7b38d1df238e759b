package dev.glowserve.ood;

import java.util.Locale;
import java.util.zip.Deflater;

/**
 * An image's complexity: the bits per dimension a general lossless compressor needs for it (Serrà et al. 2020,
 * "Input complexity and out-of-distribution detection with likelihood-based generative models"). The compressors are
 * PNG's: each row of each channel filtered, then zlib at level 9; which filter compresses this data best is measured
 * in docs/OOD.md.
 */
public enum Complexity {
    /** PNG with every row's Up filter (the difference to the row above); the default, measured best. */
    PNG_UP("png-up"),
    /** PNG with every row's Paeth filter. */
    PNG_PAETH("png-paeth"),
    /** PNG rows unfiltered: zlib on the raw pixels. */
    PNG_NONE("png-none");

    /** Deflaters keep 256 KB or more of native state each: one per thread, reset between images. */
    private static final ThreadLocal<Deflater> DEFLATERS = ThreadLocal.withInitial(() -> new Deflater(Deflater.BEST_COMPRESSION));

    private final String id;

    Complexity(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static Complexity of(String id) {
        for (Complexity c : values()) {
            if (c.id.equals(id.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown compressor '" + id + "'; one of png-up, png-paeth, png-none");
    }

    /**
     * Bits per dimension of the compressed image (C×H×W bytes): the PNG of a gray image C·H rows high, each channel's
     * rows in turn (for one channel, the image's own PNG).
     */
    public double bitsPerDim(byte[] pixels, int channels, int height, int width) {
        return 8.0 * compressedBytes(pixels, channels, height, width) / pixels.length;
    }

    /** The size of the zlib stream PNG would store for these pixels with this filter on every row. */
    public int compressedBytes(byte[] pixels, int channels, int height, int width) {
        return deflate(filtered(pixels, channels, height, width), null);
    }

    /** The zlib stream itself: a PNG's IDAT of a gray image C·H rows high (each channel's rows in turn). */
    byte[] stream(byte[] pixels, int channels, int height, int width) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        deflate(filtered(pixels, channels, height, width), out);
        return out.toByteArray();
    }

    private byte[] filtered(byte[] pixels, int channels, int height, int width) {
        if (pixels.length != channels * height * width) {
            throw new IllegalArgumentException(pixels.length + " pixels for " + channels + "×" + height + "×" + width);
        }
        byte[] filtered = new byte[channels * height * (width + 1)];
        int o = 0;
        for (int row = 0; row < channels * height; row++) {
            int start = row * width;
            boolean first = row == 0;
            filtered[o++] = (byte) (this == PNG_UP ? 2 : this == PNG_PAETH ? 4 : 0);
            for (int x = 0; x < width; x++) {
                int v = pixels[start + x] & 0xff;
                int left = x == 0 ? 0 : pixels[start + x - 1] & 0xff;
                int up = first ? 0 : pixels[start - width + x] & 0xff;
                int upLeft = first || x == 0 ? 0 : pixels[start - width + x - 1] & 0xff;
                int predicted = switch (this) {
                    case PNG_UP -> up;
                    case PNG_PAETH -> paeth(left, up, upLeft);
                    case PNG_NONE -> 0;
                };
                filtered[o++] = (byte) (v - predicted);
            }
        }
        return filtered;
    }

    /** Compresses at level 9; the size, and the bytes when {@code out} is given. */
    private static int deflate(byte[] data, java.io.ByteArrayOutputStream out) {
        Deflater d = DEFLATERS.get();
        d.reset();
        d.setInput(data);
        d.finish();
        byte[] buf = new byte[data.length + 64];
        int size = 0;
        while (!d.finished()) {
            int n = d.deflate(buf);
            if (out != null) {
                out.write(buf, 0, n);
            }
            size += n;
        }
        return size;
    }

    /** PNG's Paeth predictor: whichever of left, up and up-left is closest to left + up − up-left. */
    static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
