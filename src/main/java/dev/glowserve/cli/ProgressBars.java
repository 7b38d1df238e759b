package dev.glowserve.cli;

import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Progress bars on stderr: redrawn twice a second on a terminal, a line every 10 s when the output is a log. */
final class ProgressBars {

    private ProgressBars() {}

    static ProgressBar images(String task, long total) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setUnit(" img", 1)
                .setStyle(ProgressBarStyle.ASCII).showSpeed();
        if (System.console() == null) {
            b.setConsumer(new DelegatingProgressBarConsumer(System.err::println, 120)).setUpdateIntervalMillis(10_000);
        } else {
            b.setUpdateIntervalMillis(500);
        }
        return b.build();
    }
}
