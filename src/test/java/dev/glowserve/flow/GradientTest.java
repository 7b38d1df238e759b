package dev.glowserve.flow;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Autograd through the training pass against central finite differences of the inference pass. */
class GradientTest {

    private static final List<String> CHECKED = List.of(
            "blocks.0.flows.0.actnorm.loc", "blocks.0.flows.1.actnorm.scale",
            "blocks.0.flows.0.invconv.w_s", "blocks.0.flows.1.invconv.w_l", "blocks.1.flows.0.invconv.w_u",
            "blocks.1.flows.0.invconv.weight",
            "blocks.0.flows.0.coupling.net.0.weight", "blocks.0.flows.1.coupling.net.2.bias",
            "blocks.1.flows.1.coupling.net.4.conv.weight", "blocks.0.flows.0.coupling.net.4.scale",
            "blocks.0.prior.conv.weight", "blocks.1.prior.scale", "blocks.1.prior.class_shift");

    private static double loss(Glow glow, double[] x, int[] labels, Pass pass) {
        NDArray xs = glow.manager().create(x, new Shape(3, 1, 8, 8));
        return -glow.encode(xs, labels, pass).logPx().mean().toDoubleArray()[0];
    }

    @ParameterizedTest(name = "lu={0} classes={1}")
    @CsvSource({"true,0", "false,0", "true,3"})
    void gradientsMatchFiniteDifferences(boolean lu, int classes) {
        GlowConfig config = new GlowConfig(1, 8, 8, 2, 2, 6, true, lu, classes);
        int[] labels = classes > 0 ? new int[] {0, 2, 1} : null;
        double[] x = new double[3 * 64];
        Random r = new Random(2);
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextDouble() - 0.5;
        }
        try (Glow glow = FlowTestSupport.perturbedModel(config, DataType.FLOAT64, 21, 0.1);
                Glow reference = FlowTestSupport.perturbedModel(config, DataType.FLOAT64, 21, 0.1)) {
            glow.parameters().requireGradients();
            try (NDScope scope = new NDScope(); GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray xs = glow.manager().create(x, new Shape(3, 1, 8, 8));
                NDArray loss = glow.encode(xs, labels, Pass.TRAINING).logPx().mean().neg();
                collector.backward(loss);
            }
            int checked = 0;
            for (String name : CHECKED) {
                if (!glow.parameters().entries().containsKey(name)) {
                    continue;
                }
                double[] grad;
                try (NDArray g = glow.parameters().get(name).getGradient()) {
                    grad = g.toDoubleArray();
                }
                NDArray p = reference.parameters().get(name);
                double[] v = Tensors.toDoubles(p);
                Random pick = new Random(name.hashCode());
                for (int t = 0; t < 3; t++) {
                    int i = pick.nextInt(v.length);
                    double h = 1e-5;
                    double orig = v[i];
                    v[i] = orig + h;
                    Tensors.assign(p, v);
                    reference.parameters().markUpdated();
                    double up;
                    double down;
                    try (NDScope s = new NDScope()) {
                        up = loss(reference, x, labels, Pass.INFERENCE);
                    }
                    v[i] = orig - h;
                    Tensors.assign(p, v);
                    reference.parameters().markUpdated();
                    try (NDScope s = new NDScope()) {
                        down = loss(reference, x, labels, Pass.INFERENCE);
                    }
                    v[i] = orig;
                    Tensors.assign(p, v);
                    reference.parameters().markUpdated();
                    double numeric = (up - down) / (2 * h);
                    assertThat(grad[i]).as("%s[%d]", name, i)
                            .isCloseTo(numeric, org.assertj.core.data.Offset.offset(1e-5 + 1e-4 * Math.abs(numeric)));
                    checked++;
                }
            }
            assertThat(checked).isGreaterThanOrEqualTo(24);
        }
    }
}
