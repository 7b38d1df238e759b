package dev.glowserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An exponential moving average of the trained weights (Polyak averaging, as Glow's own recipe evaluates and ships
 * it), kept as a second model: after every update {@code average = decay·average + (1 − decay)·live} for each
 * trained tensor, ActNorm's and the LU factors alike, the fixed buffers copied once. The average's W and W⁻¹ are
 * rebuilt from its own averaged factors, so it is an exactly invertible model in its own right.
 */
final class WeightAverage implements AutoCloseable {

    private static final NDIndex ALL = new NDIndex("...");

    private final Glow live;
    private final Glow average;
    private final double decay;

    /** Starts equal to {@code live} (every tensor copied). */
    WeightAverage(Glow live, double decay, long seed) {
        if (!(decay >= 0 && decay < 1)) {
            throw new IllegalArgumentException("EMA decay must be in [0, 1), got " + decay);
        }
        this.live = live;
        this.decay = decay;
        this.average = Glow.create(live.config(), NDManager.newBaseManager(), DataType.FLOAT32, seed);
        copyAll();
    }

    double decay() {
        return decay;
    }

    /** The averaged model (initialised; its caches follow its own parameter version). */
    Glow glow() {
        return average;
    }

    /** Makes the average equal to the live weights again (after the live model was initialised or loaded). */
    void copyAll() {
        withoutGradients(() -> {
            Map<String, FlowParameters.Entry> source = live.parameters().entries();
            average.parameters().entries().forEach((name, e) -> e.array().set(ALL, source.get(name).array()));
        });
        average.markInitialized();
        average.parameters().markUpdated();
    }

    /** One step of the average, after an update of the live weights. */
    void update() {
        withoutGradients(() -> {
            Map<String, FlowParameters.Entry> source = live.parameters().entries();
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                average.parameters().entries().forEach((name, e) -> {
                    if (!e.trainable()) {
                        return;
                    }
                    NDArray a = e.array();
                    NDArray w = source.get(name).array();
                    if (decay == 0) {
                        a.set(ALL, w);
                    } else {
                        a.muli(decay).addi(w.mul(1 - decay));
                    }
                });
            }
        });
        average.parameters().markUpdated();
    }

    /** The averaged trained tensors by parameter name (for checkpoints). */
    Map<String, NDArray> trainedTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        average.parameters().entries().forEach((name, e) -> {
            if (e.trainable()) {
                out.put(name, e.array());
            }
        });
        return out;
    }

    /** Restores the averaged trained tensors from a checkpoint (the buffers come from the live model). */
    void restore(Map<String, NDArray> tensors) {
        copyAll();
        withoutGradients(() -> tensors.forEach((name, t) -> t.copyTo(average.parameters().get(name))));
        average.parameters().markUpdated();
    }

    private static void withoutGradients(Runnable body) {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            body.run();
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Override
    public void close() {
        average.close();
    }
}
