package dev.glowserve.data;

import java.util.List;

/**
 * Images of one shape held as one byte array, image after image, each C×H×W row-major. Labels
 * are optional (null), class names only when labels are present.
 */
public record ImageSet(byte[] pixels, int count, int channels, int height, int width, int[] labels,
        List<String> classNames, String source) {

    public ImageSet {
        if ((long) count * channels * height * width != pixels.length) {
            throw new IllegalArgumentException("pixel buffer does not match " + count + "×" + channels + "×" + height + "×" + width);
        }
        if (labels != null && labels.length != count) {
            throw new IllegalArgumentException(labels.length + " labels for " + count + " images");
        }
    }

    public int imageSize() {
        return channels * height * width;
    }

    public byte[] image(int i) {
        byte[] out = new byte[imageSize()];
        System.arraycopy(pixels, i * imageSize(), out, 0, out.length);
        return out;
    }

    public int numClasses() {
        return classNames == null ? 0 : classNames.size();
    }

    /** The first {@code n} images (or all, if fewer). */
    public ImageSet head(int n) {
        int k = Math.min(n, count);
        byte[] px = new byte[k * imageSize()];
        System.arraycopy(pixels, 0, px, 0, px.length);
        int[] lb = labels == null ? null : java.util.Arrays.copyOf(labels, k);
        return new ImageSet(px, k, channels, height, width, lb, classNames, source);
    }
}
