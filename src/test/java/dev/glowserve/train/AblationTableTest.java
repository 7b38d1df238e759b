package dev.glowserve.train;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The ablation's tables from known runs: means and sds over seeds, differences paired by seed, the early point. */
class AblationTableTest {

    private final List<Ablation.Result> results = new ArrayList<>();
    private final Map<Ablation.Result, List<double[]>> curves = new IdentityHashMap<>();

    private void run(String permutation, String coupling, long seed, double dequantized, double atStep1000) {
        Ablation.Result r = new Ablation.Result(permutation, coupling, seed, 3000, 450, 0.15, dequantized - 0.02, dequantized, 0.008,
                10_000, 4);
        results.add(r);
        List<double[]> curve = new ArrayList<>();
        for (int step = 250; step <= 3000; step += 250) {
            curve.add(new double[] {step, step * 0.15, step == 1000 ? atStep1000 : 9.0});
        }
        curves.put(r, curve);
    }

    @Test
    void pairsEachSeedWithTheLuConvolutionAndAdditiveWithAffine() {
        double[] luAdditive = {5.0, 5.1, 5.2};
        double[] reverseAdditive = {5.3, 5.3, 5.6};
        double[] luAffine = {4.0, 4.2, 4.1};
        for (int s = 0; s < 3; s++) {
            run("reverse", "additive", s + 1, reverseAdditive[s], 6.0 + s);
            run("conv-lu", "additive", s + 1, luAdditive[s], 5.5);
            run("conv-lu", "affine", s + 1, luAffine[s], 4.5);
        }
        String table = Ablation.table(results, curves::get);

        assertThat(table).contains("| at step 1000 (eval images) |");
        // reverse: mean 5.4 sd 0.1732; at step 1000: 6, 7, 8; differences from conv-lu +0.3 +0.2 +0.4
        assertThat(table).contains("| reverse / additive | 3 | 5.4000 ± 0.1732 | 5.3800 ± 0.1732 | 7.0000 ± 1.0000 | 150 ± 0 | "
                + "+0.3000 +0.2000 +0.4000 | +0.3000 ± 0.1000 |");
        assertThat(table).contains("| conv-lu / additive | 3 | 5.1000 ± 0.1000 |");
        // affine − additive for conv-lu: −1.0 −0.9 −1.1; reverse has no affine run, so no row
        assertThat(table).contains("| conv-lu | -1.0000 -0.9000 -1.1000 | -1.0000 ± 0.1000 |");
        assertThat(table).doesNotContain("| reverse | ");
        assertThat(table).contains("| reverse-additive-s3 | 3000 | 5.6000 ± 0.0080 | 5.5800 | 450 | 150 |");
    }
}
