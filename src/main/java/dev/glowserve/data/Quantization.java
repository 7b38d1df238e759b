package dev.glowserve.data;

import java.util.Random;

/**
 * Pixels ↔ model inputs and the discrete likelihood, exactly as docs/DESIGN.md, "Pixels in, numbers out": {@code q =
 * floor(u8 / 2^(8-n_bits))}, {@code x = q/n_bins - 0.5 + u}, {@code log p(image) = log p(x) -
 * D·ln(n_bins)}, decoded {@code q = clamp(floor((x + 0.5)·n_bins), 0, n_bins-1)}.
 */
public record Quantization(int nBits) {

    private static final double LN2 = Math.log(2);

    public Quantization {
        if (nBits < 1 || nBits > 8) {
            throw new IllegalArgumentException("n_bits must be 1..8, got " + nBits);
        }
    }

    public int bins() {
        return 1 << nBits;
    }

    private int level(int u8) {
        return (u8 & 0xff) >> (8 - nBits);
    }

    /** Deterministic mid-bin input used for scoring: one image, one score. */
    public void midBin(byte[] pixels, float[] out, int offset) {
        double bins = bins();
        double half = 0.5 / bins;
        for (int i = 0; i < pixels.length; i++) {
            out[offset + i] = (float) (level(pixels[i]) / bins - 0.5 + half);
        }
    }

    /** Training input with uniform dequantisation noise u ~ U(0, 1/n_bins). */
    public void dequantize(byte[] pixels, float[] out, int offset, Random random) {
        double bins = bins();
        for (int i = 0; i < pixels.length; i++) {
            out[offset + i] = (float) ((level(pixels[i]) + random.nextDouble()) / bins - 0.5);
        }
    }

    /** Model output → 8-bit pixels (the bin's level scaled back by 2^(8-n_bits)). */
    public byte[] toPixels(float[] x, int offset, int count) {
        byte[] out = new byte[count];
        int bins = bins();
        for (int i = 0; i < count; i++) {
            double v = x[offset + i];
            int q = Double.isNaN(v) ? 0 : (int) Math.floor((v + 0.5) * bins);
            q = Math.max(0, Math.min(bins - 1, q));
            out[i] = (byte) (q << (8 - nBits));
        }
        return out;
    }

    /** log p of the discrete image from log p of its continuous input, in nats. */
    public double imageLogP(double continuousLogP, int dimensions) {
        return continuousLogP - binLogVolume(dimensions);
    }

    /** The log-volume of an image's bins, {@code dimensions · ln(bins)}: what its continuous log p exceeds its discrete one by. */
    public double binLogVolume(int dimensions) {
        return dimensions * Math.log(bins());
    }

    public static double bitsPerDim(double imageLogP, int dimensions) {
        return -imageLogP / natsPerBitPerDim(dimensions);
    }

    /** Nats of log p per bit/dim over {@code dimensions} values: bits/dim = −log p / this. */
    public static double natsPerBitPerDim(int dimensions) {
        return dimensions * LN2;
    }
}
