package dev.glowserve.ood;

import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The drift alarm replayed on scored images, as the service would see them arrive: how often it fires on
 * in-distribution traffic (disjoint windows of shuffled held-out images: the false-alarm rate), and how many inputs
 * after traffic turns into a mix with a fraction of other images it takes to fire (the window full of
 * in-distribution inputs first, as in steady service).
 */
public final class DriftReplay {

    /** The alarm's false-alarm figures: windows tested, windows that fired, their fraction. */
    public record FalseAlarms(int windows, int fired, double rate) {}

    /** Inputs from the change to the alarm, per run (-1: it did not fire within the limit). */
    public record Detection(double fraction, int[] inputsToAlarm, int limit) {
        public double median() {
            int[] sorted = Arrays.stream(inputsToAlarm).map(i -> i < 0 ? Integer.MAX_VALUE : i).sorted().toArray();
            return sorted[sorted.length / 2] == Integer.MAX_VALUE ? Double.NaN : sorted[sorted.length / 2];
        }

        public int max() {
            return Arrays.stream(inputsToAlarm).anyMatch(i -> i < 0) ? -1 : Arrays.stream(inputsToAlarm).max().orElse(-1);
        }
    }

    private final Drift.Settings settings;
    private final double[] calibration;
    private final double alarm;

    /** {@code calibration} sorted ascending; an alarm is a drift p-value below {@code alarm}. */
    public DriftReplay(Drift.Settings settings, double[] calibration, double alarm) {
        this.settings = new Drift.Settings(settings.size(), Duration.ofDays(3650), settings.alpha(), settings.minInputs());
        this.calibration = calibration;
        this.alarm = alarm;
    }

    private double p(double score) {
        return OutOfDistribution.pValue(score, calibration);
    }

    /** {@code passes} shuffles of {@code in}, each cut into disjoint windows of the window's size, each window tested once full. */
    public FalseAlarms falseAlarms(double[] in, int passes, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int windows = 0;
        int fired = 0;
        int size = settings.size();
        for (int pass = 0; pass < passes; pass++) {
            double[] order = shuffled(in, random);
            for (int start = 0; start + size <= order.length; start += size) {
                Drift d = new Drift(settings, calibration);
                for (int i = 0; i < size; i++) {
                    d.add(order[start + i], p(order[start + i]), i);
                }
                windows++;
                fired += d.report(size).pValue() < alarm ? 1 : 0;
            }
        }
        return new FalseAlarms(windows, fired, windows == 0 ? Double.NaN : (double) fired / windows);
    }

    /**
     * {@code runs} times: a full window of in-distribution inputs, then inputs each drawn from {@code out} with
     * probability {@code fraction} (else from {@code in}), tested after every input until the alarm fires or
     * {@code limit} inputs have passed.
     */
    public Detection detection(double[] in, double[] out, double fraction, int runs, int limit, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] inputs = new int[runs];
        for (int run = 0; run < runs; run++) {
            Drift d = new Drift(settings, calibration);
            long t = 0;
            for (int i = 0; i < settings.size(); i++) {
                double s = in[random.nextInt(in.length)];
                d.add(s, p(s), t++);
            }
            inputs[run] = -1;
            for (int i = 1; i <= limit; i++) {
                double s = random.nextDouble() < fraction ? out[random.nextInt(out.length)] : in[random.nextInt(in.length)];
                d.add(s, p(s), t++);
                if (d.report(t).pValue() < alarm) {
                    inputs[run] = i;
                    break;
                }
            }
        }
        return new Detection(fraction, inputs, limit);
    }

    private static double[] shuffled(double[] values, SplittableRandom random) {
        double[] a = values.clone();
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            double x = a[i];
            a[i] = a[j];
            a[j] = x;
        }
        return a;
    }
}
