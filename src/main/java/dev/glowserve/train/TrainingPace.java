package dev.glowserve.train;

/**
 * The run's pace as the loop reports it: the mean train bits/dim of the steps taken since the last log line, and the
 * images per second over a window of about five seconds (the first step sets it; a window keeps it readable).
 */
final class TrainingPace {

    private static final double WINDOW_SECONDS = 5;

    private final int batchSize;
    private double sumBpd;
    private int counted;
    private long windowStart = System.nanoTime();
    private int windowSteps;
    private double rate;

    TrainingPace(int batchSize) {
        this.batchSize = batchSize;
    }

    /** One more step; a skipped one counts for the rate, not the mean. */
    void add(OptimizerStep.Result step) {
        if (!step.skipped()) {
            sumBpd += step.bpd();
            counted++;
        }
        windowSteps++;
        double windowSeconds = (System.nanoTime() - windowStart) / 1e9;
        if (windowSeconds > WINDOW_SECONDS || rate == 0) {
            rate = windowSteps * batchSize / windowSeconds;
            windowStart = System.nanoTime();
            windowSteps = 0;
        }
    }

    double imagesPerSecond() {
        return rate;
    }

    boolean hasMean() {
        return counted > 0;
    }

    /** Mean train bits/dim since the last {@link #restartMean}; NaN before a step was taken. */
    double meanBpd() {
        return counted == 0 ? Double.NaN : sumBpd / counted;
    }

    void restartMean() {
        sumBpd = 0;
        counted = 0;
    }
}
