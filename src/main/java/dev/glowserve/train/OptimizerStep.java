package dev.glowserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.data.Quantization;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Pass;
import dev.glowserve.flow.Tensors;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One optimiser step on a batch: the bits/dim loss forward and backward on every worker's slice, the gradient norm,
 * clipping, Adam, the weight average; a step whose loss or gradient is not finite changes nothing and says why.
 */
final class OptimizerStep {

    /** What a step did: skipped (with the reason) or taken, its mean train bits/dim and gradient norm. */
    record Result(boolean skipped, String reason, double bpd, double gradNorm) {}

    private final Glow glow;
    private final DataParallel workers;
    private final Adam adam;
    private final List<String> names;
    private final List<NDArray> trainable;
    private final Quantization quantization;
    private final double gradClip;
    private final WeightAverage average;

    OptimizerStep(Glow glow, DataParallel workers, Adam adam, List<String> names, List<NDArray> trainable,
            Quantization quantization, double gradClip, WeightAverage average) {
        this.glow = glow;
        this.workers = workers;
        this.adam = adam;
        this.names = names;
        this.trainable = trainable;
        this.quantization = quantization;
        this.gradClip = gradClip;
        this.average = average;
    }

    /** ActNorm's data-dependent initialisation from {@code first}. */
    void initializeActNorm(TrainingData.Batch first) {
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            glow.encode(input(m, first.x()), labels(first), Pass.DATA_INIT);
        }
    }

    Result take(TrainingData.Batch batch, double lr) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double loss = 0;
            for (double part : forwardBackward(batch)) {
                loss += part;
            }
            if (!Double.isFinite(loss)) {
                workers.zeroGradients(trainable);
                return new Result(true, "loss is " + loss, loss, Double.NaN);
            }
            List<NDArray> grads = workers.gradients(names, trainable);
            NDArray sumSquares = null;
            for (NDArray g : grads) {
                NDArray s = g.square().sum();
                sumSquares = sumSquares == null ? s : sumSquares.add(s);
            }
            double norm = Math.sqrt(sumSquares.toType(DataType.FLOAT64, false).toDoubleArray()[0]);
            if (!Double.isFinite(norm)) {
                workers.zeroGradients(trainable);
                return new Result(true, "gradient norm is " + norm, loss, norm);
            }
            double scale = gradClip > 0 && norm > gradClip ? gradClip / norm : 1;
            adam.update(names, trainable, grads, lr, scale);
            workers.zeroGradients(trainable);
            glow.parameters().markUpdated();
            if (average != null) {
                average.update();
            }
            return new Result(false, null, loss, norm);
        }
    }

    /** The loss and the gradient of every trainable parameter on one batch, without an update. */
    double gradients(TrainingData.Batch batch, Map<String, double[]> out) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            double loss = Arrays.stream(forwardBackward(batch)).sum();
            List<NDArray> grads = workers.gradients(names, trainable);
            for (int i = 0; i < trainable.size(); i++) {
                out.put(names.get(i), Tensors.toDoubles(grads.get(i)));
            }
            workers.zeroGradients(trainable);
            return loss;
        }
    }

    /** Each worker's share of the batch's mean bits/dim, back-propagated; a share that is not finite is not. */
    private double[] forwardBackward(TrainingData.Batch batch) {
        int n = batch.x().length / glow.config().dimensions();
        return workers.forwardBackward(n, (model, from, to) -> slice(model, batch, from, to, n));
    }

    /** Images [from, to) of the batch: forward, Σ bits/dim / batch size, backward. Grad mode is per thread. */
    private double slice(Glow model, TrainingData.Batch batch, int from, int to, int batchSize) {
        int d = model.config().dimensions();
        boolean whole = from == 0 && to == batchSize;
        float[] x = whole ? batch.x() : Arrays.copyOfRange(batch.x(), from * d, to * d);
        int[] labels = labels(batch);
        if (labels != null && !whole) {
            labels = Arrays.copyOfRange(labels, from, to);
        }
        try (NDScope scope = new NDScope(); NDManager m = model.manager().newSubManager()) {
            scope.suppressNotUsedWarning();
            JniUtils.setGradMode(true);
            NDArray logPx = model.encode(input(m, x), labels, Pass.TRAINING).logPx();
            NDArray perImage = Tensors.dividedBy(logPx.sub(quantization.binLogVolume(d)).neg(),
                    Quantization.natsPerBitPerDim(d));
            NDArray share = Tensors.dividedBy(perImage.sum(), batchSize);
            double value = share.toFloatArray()[0];
            if (Double.isFinite(value)) {
                JniUtils.backward((PtNDArray) share, (PtNDArray) share.onesLike(), false, false);
            }
            return value;
        } finally {
            JniUtils.setGradMode(false);
        }
    }

    private NDArray input(NDManager m, float[] x) {
        GlowConfig c = glow.config();
        return m.create(x, new Shape(x.length / c.dimensions(), c.inChannels(), c.height(), c.width()));
    }

    /** Labels reach the model only when it is class-conditional. */
    private int[] labels(TrainingData.Batch batch) {
        return glow.config().conditional() ? batch.labels() : null;
    }
}
