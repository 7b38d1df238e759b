package dev.glowserve.flow;

import java.util.ArrayList;
import java.util.List;

/**
 * Every kernel choice of the inference passes, with its threshold, in one table: the eager layers and the scripted
 * pass route by it alike. A choice depends on the model and the map size, never on the batch (an image gets the
 * same bits alone and inside any batch), except where both choices give the same bits ({@link #LARGE_BATCH}).
 * Why each threshold sits where it does is measured in docs/PERFORMANCE.md.
 */
public record InferenceRoutes(List<Level> levels, boolean prepacked) {

    /**
     * Feature maps of at most this many positions per image run the coupling's 1×1 conv and every ZeroConv as GEMMs
     * over rows: oneDNN's convolutions gave an image other last bits alone than inside a batch at 7×7.
     */
    public static final long MAX_GEMM_POSITIONS = 64;
    /** A ZeroConv with fewer outputs runs its 9 taps as one conv or GEMM and sums them into place. */
    public static final int MIN_DIRECT_OUT = 8;
    /** The prepacked 3×3 conv from at most this many channels runs as a 1×1 conv over its windows ... */
    public static final int WINDOWED_MAX_IN = 6;
    /** ... to at least this many, which is also the width from which small maps take oneDNN's GEMMs. */
    public static final int WIDE = 256;
    /** From this batch size on, ops with a per-call cost that pays off only on large batches (the same bits). */
    public static final int LARGE_BATCH = 8;
    /** The batch size oneDNN's weight layouts are packed for (the layout does not depend on it). */
    public static final int PACKED_BATCH = 64;

    /** How a ZeroConv is computed. */
    public enum ZeroConv {
        /** The taps as a GEMM over each image's rows, summed into place by a fixed shift-matrix GEMM (small maps). */
        ROWS_GEMM,
        /** The taps as a GEMM (inference) or 1×1 conv (training), summed into place by col2im or a grouped conv. */
        TAPS,
        /** The direct 3×3 conv. */
        DIRECT
    }

    /**
     * One level's choices: its couplings' and its split prior's ZeroConv routes and, for the prepacked pass, the
     * windowed 3×3 conv and oneDNN's GEMMs.
     */
    public record Level(ZeroConv coupling, ZeroConv prior, boolean windowed, boolean oneDnnGemms) {

        /** Small maps also run the coupling's 1×1 conv over rows, with its ZeroConv. */
        public boolean smallMap() {
            return coupling == ZeroConv.ROWS_GEMM;
        }
    }

    public static boolean smallMap(long h, long w) {
        return h * w <= MAX_GEMM_POSITIONS;
    }

    /** The route of a ZeroConv with {@code out} outputs at (h, w): one rule for inference and training. */
    public static ZeroConv zeroConv(long h, long w, int out, boolean training) {
        if (!training && smallMap(h, w)) {
            return ZeroConv.ROWS_GEMM;
        }
        return out < MIN_DIRECT_OUT && h * w > 1 ? ZeroConv.TAPS : ZeroConv.DIRECT;
    }

    /** The table for a model; {@code prepacked}: oneDNN's prepacked kernels are in use (CPU, float32). */
    public static InferenceRoutes of(GlowConfig config, boolean prepacked) {
        List<Level> levels = new ArrayList<>(config.levels());
        for (int l = 0; l < config.levels(); l++) {
            long h = config.levelHeight(l);
            long w = config.levelWidth(l);
            int channels = config.flowChannels(l);
            int hidden = config.hiddenChannels();
            boolean small = smallMap(h, w);
            ZeroConv coupling = zeroConv(h, w, config.affine() ? channels : channels / 2, false);
            ZeroConv prior = l < config.levels() - 1 ? zeroConv(h, w, channels, false) : ZeroConv.DIRECT;
            boolean windowed = prepacked && !small && channels / 2 <= WINDOWED_MAX_IN && hidden >= WIDE;
            boolean oneDnnGemms = prepacked && small && hidden >= WIDE;
            levels.add(new Level(coupling, prior, windowed, oneDnnGemms));
        }
        return new InferenceRoutes(List.copyOf(levels), prepacked);
    }
}
