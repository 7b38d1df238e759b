package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/** Small conversions between Java arrays and tensors of the model's data type. */
public final class Tensors {

    private Tensors() {}

    public static NDArray create(NDManager manager, double[] values, Shape shape, DataType dataType) {
        if (dataType == DataType.FLOAT64) {
            return manager.create(values, shape);
        }
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) values[i];
        }
        return manager.create(f, shape);
    }

    /**
     * {@code x · v} that autograd can differentiate safely. DJL's {@code mul(Number)} wraps the number
     * in a Java-allocated scalar and closes it at once; autograd keeps that scalar for the backward,
     * which then read freed memory after a garbage collection (corrupt gradients, seen as rare
     * non-determinism). A scalar made by PyTorch lives as long as autograd holds it.
     */
    public static NDArray times(NDArray x, double v) {
        return x.mul(scalar(x, v));
    }

    /** {@code x + v} with a PyTorch-made scalar: DJL builds a Number operand from Java memory, far slower. */
    public static NDArray plus(NDArray x, double v) {
        return x.add(scalar(x, v));
    }

    /** {@code x / v}, safe under autograd as {@link #times}. */
    public static NDArray dividedBy(NDArray x, double v) {
        return x.div(scalar(x, v));
    }

    private static NDArray scalar(NDArray like, double v) {
        if (like.getDataType() == DataType.FLOAT64) {
            // full() takes a float; a double model needs the exact value (copied into PyTorch memory)
            try (NDArray javaScalar = like.getManager().create(v)) {
                return javaScalar.duplicate();
            }
        }
        return like.getManager().full(new Shape(), (float) v, like.getDataType());
    }

    public static double[] toDoubles(NDArray array) {
        if (array.getDataType() == DataType.FLOAT64) {
            return array.toDoubleArray();
        }
        float[] f = array.toType(DataType.FLOAT32, false).toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Overwrites a tensor's values in place (keeps its identity, so layers holding it see the change). */
    public static void assign(NDArray target, double[] values) {
        if (values.length != target.size()) {
            throw new IllegalArgumentException(values.length + " values for " + target.getShape());
        }
        if (target.getDataType() == DataType.FLOAT64) {
            target.set(java.nio.DoubleBuffer.wrap(values));
        } else {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            target.set(java.nio.FloatBuffer.wrap(f));
        }
    }
}
