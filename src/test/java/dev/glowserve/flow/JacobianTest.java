package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The model's log-det against log|det J| of the full Jacobian, built by central finite differences
 * in double precision on a tiny input; and the whole log-density against the change of variables.
 */
class JacobianTest {

    private static double[] latentVector(Glow glow, double[] input, boolean standardised) {
        try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
            NDArray x = m.create(input, new Shape(1, 1, 4, 4));
            Encoding enc = glow.encode(x, null, Pass.INFERENCE);
            List<NDArray> parts = standardised ? enc.eps() : enc.z();
            double[] out = new double[input.length];
            int k = 0;
            for (NDArray p : parts) {
                for (double v : p.toDoubleArray()) {
                    out[k++] = v;
                }
            }
            assertThat(k).isEqualTo(input.length);
            return out;
        }
    }

    private static double[][] jacobian(Glow glow, double[] x, boolean standardised) {
        int d = x.length;
        double h = 1e-5;
        double[][] j = new double[d][d];
        for (int col = 0; col < d; col++) {
            double[] plus = x.clone();
            double[] minus = x.clone();
            plus[col] += h;
            minus[col] -= h;
            double[] fp = latentVector(glow, plus, standardised);
            double[] fm = latentVector(glow, minus, standardised);
            for (int row = 0; row < d; row++) {
                j[row][col] = (fp[row] - fm[row]) / (2 * h);
            }
        }
        return j;
    }

    @ParameterizedTest(name = "affine={0} permutation={1}")
    @CsvSource({"true,conv-lu", "true,conv", "false,conv-lu", "true,reverse", "false,shuffle"})
    void logDetEqualsBruteForceJacobian(boolean affine, String permutation) {
        GlowConfig config = new GlowConfig(1, 4, 4, 2, 2, 8, affine, Permutation.of(permutation), 0);
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT64, 5, 0.15)) {
            double[] x = new double[16];
            Random r = new Random(3);
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextDouble() - 0.5;
            }
            double modelLogDet;
            double modelLogPx;
            double[] eps = latentVector(glow, x, true);
            try (NDScope scope = new NDScope(); NDManager m = glow.manager().newSubManager()) {
                Encoding enc = glow.encode(m.create(x, new Shape(1, 1, 4, 4)), null, Pass.INFERENCE);
                modelLogDet = enc.logDet().toDoubleArray()[0];
                modelLogPx = enc.logPx().toDoubleArray()[0];
            }
            double bruteLogDet = Matrices.logAbsDet(jacobian(glow, x, false));
            assertThat(Math.abs(modelLogDet - bruteLogDet)).isLessThan(1e-3 * Math.abs(bruteLogDet));

            // change of variables through the standardised latents: log p(x) = log N(eps; 0, I) + log|det ∂eps/∂x|
            double normal = 0;
            for (double e : eps) {
                normal += -0.5 * Math.log(2 * Math.PI) - 0.5 * e * e;
            }
            double bruteLogPx = normal + Matrices.logAbsDet(jacobian(glow, x, true));
            assertThat(Math.abs(modelLogPx - bruteLogPx)).isLessThan(1e-3 * Math.abs(bruteLogPx));
        }
    }
}
