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
}
