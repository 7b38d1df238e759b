package dev.glowserve.flow;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * Every kernel choice of the inference passes in one table: the eager layers and the scripted pass route by it alike.
 * A choice depends on the model and the map size, never on the batch (an image gets the same bits alone and inside
 * any batch), except where both choices give the same bits ({@link #LARGE_BATCH}). The ZeroConv routes follow from
 * the map size (they keep that promise); which of oneDNN's kernels run the convolutions is a matter of speed only, and
 * {@link RouteTuner} measures it on the host. {@link #of} is the untuned table (tuning off); why its thresholds sit
 * where they do is measured in docs/PERFORMANCE.md.
 *
 * @param packedBatch the batch size oneDNN's weight layouts are packed for (a route may run any batch)
 */
public record InferenceRoutes(List<Level> levels, boolean prepacked, int packedBatch) {

    /**
     * Feature maps of at most this many positions per image run the coupling's 1×1 conv and every ZeroConv as GEMMs
     * over rows: oneDNN's convolutions gave an image other last bits alone than inside a batch at 7×7.
     */
    public static final long MAX_GEMM_POSITIONS = 64;
    /** A ZeroConv with fewer outputs runs its 9 taps as one conv or GEMM and sums them into place. */
    public static final int MIN_DIRECT_OUT = 8;
    /** Untuned: the prepacked 3×3 conv from at most this many channels runs as a 1×1 conv over its windows ... */
    public static final int WINDOWED_MAX_IN = 6;
    /** ... to at least this many, which is also the width from which small maps take oneDNN's GEMMs. */
    public static final int WIDE = 256;
    /** From this batch size on, ops with a per-call cost that pays off only on large batches (the same bits). */
    public static final int LARGE_BATCH = 8;
    /** Untuned: the batch size oneDNN's weight layouts are packed for. */
    public static final int PACKED_BATCH = 64;

    public InferenceRoutes {
        levels = List.copyOf(levels);
        if (packedBatch < 1) {
            throw new IllegalArgumentException("packed batch " + packedBatch);
        }
        for (Level l : levels) {
            if (!prepacked && (l.packedIn() || l.packedHidden() || l.oneDnnGemms())) {
                throw new IllegalArgumentException("a table without prepacked kernels packs nothing");
            }
        }
    }

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
     * One level's choices: its couplings' and its split prior's ZeroConv routes (fixed by the map size) and, for the
     * prepacked pass, which convolutions run prepacked: the 3×3 one on large batches ({@code packedIn}, as a 1×1 conv
     * over its windows where {@code windowed}), the 1×1 one off small maps ({@code packedHidden}), and on small maps
     * oneDNN's GEMMs for the 1×1 conv and the ZeroConv taps ({@code oneDnnGemms}, other rounding than MKL's).
     */
    public record Level(ZeroConv coupling, ZeroConv prior, boolean packedIn, boolean windowed, boolean packedHidden,
                        boolean oneDnnGemms) {

        public Level {
            if (windowed && !packedIn) {
                throw new IllegalArgumentException("the windowed 3x3 conv is a prepacked one");
            }
        }

        /** Small maps also run the coupling's 1×1 conv over rows, with its ZeroConv. */
        public boolean smallMap() {
            return coupling == ZeroConv.ROWS_GEMM;
        }

        Level with(boolean packedIn, boolean windowed, boolean packedHidden, boolean oneDnnGemms) {
            return new Level(coupling, prior, packedIn, windowed, packedHidden, oneDnnGemms);
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

    /** The untuned table for a model; {@code prepacked}: oneDNN's prepacked kernels are in use (CPU, float32). */
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
            levels.add(new Level(coupling, prior, prepacked, windowed, prepacked && !small, oneDnnGemms));
        }
        return new InferenceRoutes(levels, prepacked, PACKED_BATCH);
    }

    /** This table with level {@code l} replaced. */
    InferenceRoutes withLevel(int l, Level level) {
        List<Level> copy = new ArrayList<>(levels);
        copy.set(l, level);
        return new InferenceRoutes(copy, prepacked, packedBatch);
    }

    InferenceRoutes withPackedBatch(int batch) {
        return new InferenceRoutes(levels, prepacked, batch);
    }

    /** One line for logs and headers, e.g. {@code prepacked for batch 64; level 0: 3x3 windowed, 1x1 packed; ...}. */
    public String describe() {
        if (!prepacked) {
            return "plain convolutions and MKL's GEMMs";
        }
        StringJoiner out = new StringJoiner("; ");
        out.add("prepacked for batch " + packedBatch);
        for (int l = 0; l < levels.size(); l++) {
            Level r = levels.get(l);
            StringJoiner level = new StringJoiner(", ", "level " + l + ": ", "");
            level.add(r.windowed() ? "3x3 windowed" : r.packedIn() ? "3x3 packed" : "3x3 plain");
            if (r.smallMap()) {
                level.add(r.oneDnnGemms() ? "GEMMs oneDNN" : "GEMMs MKL");
            } else {
                level.add(r.packedHidden() ? "1x1 packed" : "1x1 plain");
            }
            out.add(level.toString());
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }
}
