package dev.glowserve.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glowserve.flow.Linalg;
import dev.glowserve.flow.Matrices;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The paper's claim for the LU parametrisation (section 3.2), measured in libtorch on this CPU: log|det W| from the
 * factors (Σ log|s|, O(c)) against a general slogdet (an LU factorisation, O(c³)), and W⁻¹ from the factors
 * (triangular solves) against a general inverse, for c channels; with their agreement in float32 against the exact
 * value in double. W is made as a trained model's is: P·L·(U + diag(s)) with L, U near the identity and |s| around 1.
 */
public final class LogDetCost {

    /**
     * One size's medians in microseconds, and each way's float32 error against the exact value in double: the
     * log-determinant's absolute error, the inverse's largest error relative to its largest entry.
     */
    public record Row(int channels, double luLogDetMicros, double slogdetMicros, double luInverseMicros, double inverseMicros,
            double luLogDetError, double slogdetError, double luInverseError, double inverseError) {}

    private LogDetCost() {}

    public static List<Row> measure(int[] channels, double secondsEach) {
        List<Row> rows = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu()); Linalg linalg = Linalg.compile(m)) {
            for (int c : channels) {
                rows.add(row(m, linalg, c, secondsEach));
            }
        }
        return rows;
    }

    private static Row row(NDManager m, Linalg linalg, int c, double secondsEach) {
        Random random = new Random(c);
        double[][] p = Matrices.lu(Matrices.randomOrthogonal(c, random)).p();
        double[][] l = Matrices.identity(c);
        double[][] u = new double[c][c];
        double[] s = new double[c];
        double exact = 0;
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < i; j++) {
                l[i][j] = 0.1 * random.nextGaussian();
            }
            for (int j = i + 1; j < c; j++) {
                u[i][j] = 0.1 * random.nextGaussian();
            }
            s[i] = (random.nextBoolean() ? 1 : -1) * Math.exp(0.3 * random.nextGaussian());
            u[i][i] = s[i];
            exact += Math.log(Math.abs(s[i]));
        }
        double[][] w = Matrices.multiply(p, Matrices.multiply(l, u));
        double[][] wInv = Matrices.inverse(w);
        try (NDManager scope = m.newSubManager()) {
            NDArray wt = tensor(scope, w, c);
            NDArray pt = tensor(scope, p, c);
            NDArray lt = tensor(scope, l, c);
            NDArray ut = tensor(scope, u, c);
            NDArray st = scope.create(toFloats(s));
            double luLogDet = micros(() -> linalg.luLogDet(st).close(), secondsEach);
            double slogdet = micros(() -> linalg.slogdet(wt).close(), secondsEach);
            double luInverse = micros(() -> linalg.luInverse(pt, lt, ut).close(), secondsEach);
            double inverse = micros(() -> linalg.inverse(wt).close(), secondsEach);
            try (NDArray a = linalg.luLogDet(st); NDArray b = linalg.slogdet(wt); NDArray x = linalg.luInverse(pt, lt, ut);
                 NDArray y = linalg.inverse(wt)) {
                return new Row(c, luLogDet, slogdet, luInverse, inverse, Math.abs(a.getFloat() - exact), Math.abs(b.getFloat() - exact),
                        relativeError(x.toFloatArray(), wInv), relativeError(y.toFloatArray(), wInv));
            }
        }
    }

    /** The largest error of {@code got} (row-major) against {@code exact}, relative to exact's largest entry. */
    private static double relativeError(float[] got, double[][] exact) {
        int c = exact.length;
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < c; i++) {
            for (int j = 0; j < c; j++) {
                worst = Math.max(worst, Math.abs(got[i * c + j] - exact[i][j]));
                scale = Math.max(scale, Math.abs(exact[i][j]));
            }
        }
        return worst / scale;
    }

    private static NDArray tensor(NDManager m, double[][] a, int c) {
        return m.create(toFloats(Matrices.flatten(a)), new Shape(c, c)).toType(DataType.FLOAT32, false);
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** Median microseconds per call over 5 rounds of calls, each about a fifth of {@code seconds}, after a warm-up. */
    private static double micros(Runnable call, double seconds) {
        for (int i = 0; i < 20; i++) {
            call.run();
        }
        double[] rounds = new double[5];
        for (int r = 0; r < rounds.length; r++) {
            long budget = (long) (seconds / rounds.length * 1e9);
            long start = System.nanoTime();
            int calls = 0;
            do {
                call.run();
                calls++;
            } while (System.nanoTime() - start < budget);
            rounds[r] = (System.nanoTime() - start) / 1e3 / calls;
        }
        Arrays.sort(rounds);
        return rounds[rounds.length / 2];
    }

    public static void print(List<Row> rows) {
        System.out.println("| channels | log|det| from s, µs | slogdet, µs | ratio | error from s / slogdet | W⁻¹ from the factors, µs "
                + "| inverse, µs | ratio | relative error from the factors / inverse |");
        System.out.println("|---:|---:|---:|---:|---|---:|---:|---:|---|");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %d | %.2f | %.2f | %.1f | %.1e / %.1e | %.2f | %.2f | %.2f | %.1e / %.1e |%n", r.channels(),
                    r.luLogDetMicros(), r.slogdetMicros(), r.slogdetMicros() / r.luLogDetMicros(), r.luLogDetError(), r.slogdetError(),
                    r.luInverseMicros(), r.inverseMicros(), r.inverseMicros() / r.luInverseMicros(), r.luInverseError(), r.inverseError());
        }
    }

    /** Time against channels, both axes logarithmic. */
    public static void plot(List<Row> rows, Path out) throws IOException {
        XYSeries[] series = {new XYSeries("log|det W| = Σ log|s| (from the factors)"), new XYSeries("slogdet(W) (general LU)"),
                new XYSeries("W⁻¹ from the factors (triangular solves)"), new XYSeries("inverse(W) (general)")};
        for (Row r : rows) {
            series[0].add(r.channels(), r.luLogDetMicros());
            series[1].add(r.channels(), r.slogdetMicros());
            series[2].add(r.channels(), r.luInverseMicros());
            series[3].add(r.channels(), r.inverseMicros());
        }
        XYSeriesCollection data = new XYSeriesCollection();
        Arrays.stream(series).forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("The 1x1 convolution's log-determinant and inverse in libtorch, this CPU",
                "channels c", "µs per call", data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        LogAxis x = new LogAxis("channels c");
        x.setBase(2);
        plot.setDomainAxis(x);
        plot.setRangeAxis(new LogAxis("µs per call"));
        org.jfree.chart.renderer.xy.XYLineAndShapeRenderer r = new org.jfree.chart.renderer.xy.XYLineAndShapeRenderer(true, true);
        Color[] colours = {new Color(200, 40, 40), new Color(40, 80, 200), new Color(30, 140, 60), new Color(230, 130, 0)};
        for (int i = 0; i < colours.length; i++) {
            r.setSeriesPaint(i, colours[i]);
            r.setSeriesStroke(i, new java.awt.BasicStroke(2f));
        }
        plot.setRenderer(r);
        ChartUtils.saveChartAsPNG(out.toFile(), chart, 900, 520);
    }
}
