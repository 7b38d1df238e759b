package dev.glowserve.train;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The learning curve as a PNG: train and test bits/dim (live weights and their average) against training step. */
public final class Plots {

    private Plots() {}

    public static void bitsPerDim(List<HistoryPoint> history, String title, Path out) throws IOException {
        XYSeries train = new XYSeries("train (mean over 10 steps)");
        XYSeries test = new XYSeries("test (held-out), live weights");
        XYSeries averaged = new XYSeries("test (held-out), weight average (EMA)");
        for (HistoryPoint p : history) {
            if (p.trainBpd() != null && Double.isFinite(p.trainBpd())) {
                train.add(p.step(), p.trainBpd());
            }
            if (p.testBpd() != null) {
                test.add(p.step(), p.testBpd());
            }
            if (p.emaTestBpd() != null) {
                averaged.add(p.step(), p.emaTestBpd());
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(train);
        data.addSeries(test);
        if (averaged.getItemCount() > 0) {
            data.addSeries(averaged);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "bits/dim", data,
                PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        r.setSeriesPaint(0, new Color(70, 130, 180));
        r.setSeriesPaint(1, new Color(220, 80, 40));
        r.setSeriesStroke(0, new BasicStroke(1.2f));
        r.setSeriesStroke(1, new BasicStroke(2.2f));
        r.setSeriesShapesVisible(1, true);
        r.setSeriesPaint(2, new Color(40, 150, 60));
        r.setSeriesStroke(2, new BasicStroke(2.2f));
        r.setSeriesShapesVisible(2, true);
        plot.setRenderer(r);
        double low = Double.MAX_VALUE;
        for (HistoryPoint p : history) {
            if (p.testBpd() != null) {
                low = Math.min(low, p.testBpd());
            }
            if (p.emaTestBpd() != null) {
                low = Math.min(low, p.emaTestBpd());
            }
            if (p.trainBpd() != null && Double.isFinite(p.trainBpd())) {
                low = Math.min(low, p.trainBpd());
            }
        }
        if (low < Double.MAX_VALUE) {
            // the first steps start far above; keep the interesting range in view
            plot.getRangeAxis().setRange(Math.floor(low * 10) / 10 - 0.1, Math.min(low + 3, 9));
        }
        ChartUtils.saveChartAsPNG(out.toFile(), chart, 900, 500);
    }

    /** Distinct on white and to most colour-blind readers (Okabe and Ito's palette, yellow left out). */
    private static final Color[] CURVE_COLOURS = {new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115),
        new Color(204, 121, 167), new Color(86, 180, 233), new Color(230, 159, 0), Color.BLACK};

    /**
     * Test bits/dim curves, one line per variant: at each eval point the mean over the variant's runs (seeds), against
     * {@code x}: 0 the step, 1 the training seconds (each run's eval points are (step, seconds, bits/dim)); a variant named
     * "a / b" gets a's colour and b's dash.
     */
    public static void curves(java.util.Map<String, List<List<double[]>>> runsByVariant, int x, String title, Path out)
            throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (java.util.Map.Entry<String, List<List<double[]>>> e : runsByVariant.entrySet()) {
            XYSeries series = new XYSeries(e.getKey());
            List<List<double[]>> runs = e.getValue();
            int points = runs.stream().mapToInt(List::size).min().orElse(0);
            for (int i = 0; i < points; i++) {
                double sx = 0, sy = 0;
                for (List<double[]> run : runs) {
                    sx += run.get(i)[x];
                    sy += run.get(i)[2];
                }
                series.add(sx / runs.size(), sy / runs.size());
            }
            data.addSeries(series);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, x == 0 ? "step" : "training seconds", "test bits/dim (eval images, mid-bin)",
                data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = chart.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        // "a / b" labels: a picks the colour and b the dash, so each variable reads off one visual channel.
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        java.util.Map<String, Integer> colours = new java.util.LinkedHashMap<>();
        java.util.Map<String, Integer> dashes = new java.util.LinkedHashMap<>();
        for (int i = 0; i < data.getSeriesCount(); i++) {
            String[] parts = data.getSeriesKey(i).toString().split(" / ", 2);
            int colour = colours.computeIfAbsent(parts[0], k -> colours.size());
            int dash = parts.length < 2 ? 0 : dashes.computeIfAbsent(parts[1], k -> dashes.size());
            r.setSeriesPaint(i, CURVE_COLOURS[colour % CURVE_COLOURS.length]);
            r.setSeriesStroke(i, dash == 0 ? new BasicStroke(1.8f)
                    : new BasicStroke(1.8f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {7f, 4f}, 0f));
        }
        plot.setRenderer(r);
        ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        ChartUtils.saveChartAsPNG(out.toFile(), chart, 900, 520);
    }

    /**
     * Score histograms, one panel per method (as given), each set's a line of its density over the panel's bins, a
     * dashed line where the method's flag starts ({@code flagAbove}, when it has the method); the panels stacked in one PNG.
     */
    public static void histograms(java.util.Map<String, java.util.Map<String, double[]>> byMethod,
            java.util.Map<String, Double> flagAbove, String title, Path out) throws IOException {
        int width = 900, height = 330;
        java.awt.image.BufferedImage all = new java.awt.image.BufferedImage(width, height * byMethod.size(),
                java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = all.createGraphics();
        int panel = 0;
        Color[] colors = {new Color(40, 120, 60), new Color(200, 60, 40), new Color(60, 90, 200), new Color(150, 100, 20),
                new Color(140, 50, 160), new Color(20, 150, 160), new Color(90, 90, 90), new Color(230, 120, 170)};
        for (java.util.Map.Entry<String, java.util.Map<String, double[]>> m : byMethod.entrySet()) {
            // the range holds 99% of every set; the few beyond it count in the edge bins
            double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
            for (double[] v : m.getValue().values()) {
                double[] sorted = v.clone();
                java.util.Arrays.sort(sorted);
                lo = Math.min(lo, sorted[(int) (0.005 * (sorted.length - 1))]);
                hi = Math.max(hi, sorted[(int) Math.ceil(0.995 * (sorted.length - 1))]);
            }
            int bins = 80;
            double step = (hi - lo) / bins > 0 ? (hi - lo) / bins : 1;
            XYSeriesCollection data = new XYSeriesCollection();
            for (java.util.Map.Entry<String, double[]> set : m.getValue().entrySet()) {
                double[] counts = new double[bins];
                for (double x : set.getValue()) {
                    counts[Math.max(0, Math.min(bins - 1, (int) ((x - lo) / step)))]++;
                }
                XYSeries s = new XYSeries(set.getKey() + " (" + set.getValue().length + ")");
                for (int b = 0; b < bins; b++) {
                    s.add(lo + (b + 0.5) * step, counts[b] / set.getValue().length / step);
                }
                data.addSeries(s);
            }
            JFreeChart chart = ChartFactory.createXYLineChart(panel == 0 ? title + " — " + m.getKey() : m.getKey(), m.getKey() + " score",
                    "density", data, PlotOrientation.VERTICAL, true, false, false);
            XYPlot plot = chart.getXYPlot();
            plot.setBackgroundPaint(Color.WHITE);
            plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
            plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
            XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
            for (int i = 0; i < data.getSeriesCount(); i++) {
                r.setSeriesPaint(i, colors[i % colors.length]);
                r.setSeriesStroke(i, new BasicStroke(i == 0 ? 2.8f : 1.6f));
            }
            plot.setRenderer(r);
            Double threshold = flagAbove.get(m.getKey());
            if (threshold != null) {
                org.jfree.chart.plot.ValueMarker marker = new org.jfree.chart.plot.ValueMarker(threshold, Color.BLACK,
                        new BasicStroke(1.2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
                marker.setLabel("flagged above");
                marker.setLabelAnchor(org.jfree.chart.ui.RectangleAnchor.TOP_RIGHT);
                marker.setLabelTextAnchor(org.jfree.chart.ui.TextAnchor.TOP_LEFT);
                plot.addDomainMarker(marker);
            }
            chart.draw(g, new java.awt.geom.Rectangle2D.Double(0, panel * height, width, height));
            panel++;
        }
        g.dispose();
        javax.imageio.ImageIO.write(all, "png", out.toFile());
    }
}
