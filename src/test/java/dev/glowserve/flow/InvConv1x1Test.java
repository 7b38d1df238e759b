package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class InvConv1x1Test {

    /** Determinant by cofactor expansion: independent of any LU code. */
    private static double det(double[][] a) {
        int n = a.length;
        if (n == 1) {
            return a[0][0];
        }
        double sum = 0;
        for (int col = 0; col < n; col++) {
            double[][] minor = new double[n - 1][n - 1];
            for (int i = 1; i < n; i++) {
                for (int j = 0, k = 0; j < n; j++) {
                    if (j != col) {
                        minor[i - 1][k++] = a[i][j];
                    }
                }
            }
            sum += (col % 2 == 0 ? 1 : -1) * a[0][col] * det(minor);
        }
        return sum;
    }

    private static InvConv1x1 perturbedLayer(FlowParameters params, int channels, long seed) {
        InvConv1x1 layer = new InvConv1x1(params, "invconv.", channels, new Random(seed));
        Random r = new Random(seed + 1);
        for (String name : new String[] {"invconv.w_l", "invconv.w_s", "invconv.w_u"}) {
            NDArray a = params.get(name);
            double[] v = Tensors.toDoubles(a);
            for (int i = 0; i < v.length; i++) {
                v[i] += 0.4 * r.nextGaussian();
            }
            Tensors.assign(a, v);
        }
        params.markUpdated();
        return layer;
    }

    @Test
    void luLogDetEqualsDirectDeterminant() {
        try (FlowParameters params = new FlowParameters(NDManager.newBaseManager(), DataType.FLOAT32)) {
            InvConv1x1 layer = perturbedLayer(params, 8, 3);
            Matrices.Lu f = layer.factors();
            double[][] w = Matrices.multiply(Matrices.multiply(f.p(), f.l()), f.u());
            double direct = Math.log(Math.abs(det(w)));
            assertThat(Math.abs(layer.logAbsDet() - direct)).isLessThan(1e-6);
            assertThat(Math.abs(layer.assembled().logAbsDet() - direct)).isLessThan(1e-6);
        }
    }

    @Test
    void cachedInverseTimesWeightIsIdentityAndCacheFollowsUpdates() {
        try (FlowParameters params = new FlowParameters(NDManager.newBaseManager(), DataType.FLOAT32);
                NDScope scope = new NDScope()) {
            int c = 8;
            InvConv1x1 layer = perturbedLayer(params, c, 5);
            InvConv1x1.Assembled a = layer.assembled();
            assertThat(layer.assembled()).as("no rebuild without an update").isSameAs(a);
            assertIdentity(a, c);
            float[] before = a.weight().toFloatArray();

            // an optimizer step changes w_s in place and marks the parameters updated
            NDArray ws = params.get("invconv.w_s");
            double[] v = Tensors.toDoubles(ws);
            v[0] += 0.5;
            Tensors.assign(ws, v);
            params.markUpdated();

            InvConv1x1.Assembled b = layer.assembled();
            assertThat(b).isNotSameAs(a);
            assertThat(b.weight().toFloatArray()).isNotEqualTo(before);
            assertIdentity(b, c);
            assertThat(b.logAbsDet()).isCloseTo(layer.logAbsDet(), org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    private static void assertIdentity(InvConv1x1.Assembled a, int c) {
        NDArray product = a.inverse().reshape(c, c).matMul(a.weight().reshape(c, c));
        float[] p = product.toFloatArray();
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                assertThat((double) p[i * c + j]).isCloseTo(i == j ? 1 : 0, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @Test
    void graphWeightEqualsCachedWeight() {
        try (FlowParameters params = new FlowParameters(NDManager.newBaseManager(), DataType.FLOAT64);
                NDScope scope = new NDScope()) {
            InvConv1x1 layer = perturbedLayer(params, 4, 9);
            double[] graph = layer.weightWithGradient().toDoubleArray();
            double[] cached = layer.assembled().weight().toDoubleArray();
            for (int i = 0; i < graph.length; i++) {
                assertThat(graph[i]).isCloseTo(cached[i], org.assertj.core.data.Offset.offset(1e-12));
            }
        }
    }

    @Test
    void freshWeightIsARotation() {
        try (FlowParameters params = new FlowParameters(NDManager.newBaseManager(), DataType.FLOAT64)) {
            InvConv1x1 layer = new InvConv1x1(params, "invconv.", 6, new Random(1));
            assertThat(Math.abs(layer.logAbsDet())).isLessThan(1e-9);
            Matrices.Lu f = layer.factors();
            double[][] w = Matrices.multiply(Matrices.multiply(f.p(), f.l()), f.u());
            double[][] wtw = Matrices.multiply(Matrices.transpose(w), w);
            for (int i = 0; i < 6; i++) {
                for (int j = 0; j < 6; j++) {
                    assertThat(wtw[i][j]).isCloseTo(i == j ? 1 : 0, org.assertj.core.data.Offset.offset(1e-9));
                }
            }
        }
    }
}
