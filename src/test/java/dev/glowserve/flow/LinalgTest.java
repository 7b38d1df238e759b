package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The log-det cost table's two ways agree, in double: Σ log|s| from the factors is libtorch's general slogdet of W,
 * and W⁻¹ from the factors is its general inverse, both against Java's own LU in double.
 */
class LinalgTest {

    @Test
    void fromTheFactorsEqualsTheGeneralWay() {
        try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu()); Linalg linalg = Linalg.compile(m)) {
            for (int c : new int[] {4, 8, 16, 48}) {
                Random random = new Random(c);
                Matrices.Lu lu = Matrices.lu(Matrices.randomOrthogonal(c, random));
                double[][] u = lu.u();
                double[] s = new double[c];
                for (int i = 0; i < c; i++) {
                    u[i][i] *= Math.exp(0.3 * random.nextGaussian()); // |det| no longer 1
                    s[i] = u[i][i];
                }
                double[][] w = Matrices.multiply(lu.p(), Matrices.multiply(lu.l(), u));
                NDArray wt = m.create(Matrices.flatten(w), new Shape(c, c));
                double fromFactors = linalg.luLogDet(m.create(s)).getDouble();
                assertThat(fromFactors).isCloseTo(Matrices.logAbsDet(w), within(1e-10));
                assertThat(linalg.slogdet(wt).getDouble()).isCloseTo(fromFactors, within(1e-10));
                double[] general = linalg.inverse(wt).toDoubleArray();
                double[] factors = linalg.luInverse(m.create(Matrices.flatten(lu.p()), new Shape(c, c)),
                        m.create(Matrices.flatten(lu.l()), new Shape(c, c)), m.create(Matrices.flatten(u), new Shape(c, c))).toDoubleArray();
                double[] exact = Matrices.flatten(Matrices.inverse(w));
                for (int i = 0; i < exact.length; i++) {
                    assertThat(factors[i]).isCloseTo(exact[i], within(1e-9));
                    assertThat(general[i]).isCloseTo(exact[i], within(1e-9));
                }
            }
        }
    }
}
