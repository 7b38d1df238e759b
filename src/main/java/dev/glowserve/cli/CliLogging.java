package dev.glowserve.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import org.slf4j.LoggerFactory;

/**
 * Command-line tools print their results on stdout (JSON for {@code score}), so their log lines
 * go to stderr, warnings only. The service keeps Spring Boot's logging.
 */
public final class CliLogging {

    private CliLogging() {}

    public static void toStderr() {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return;
        }
        ctx.reset();
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(ctx);
        encoder.setPattern("%d{HH:mm:ss} %-5level %logger{20} - %msg%n");
        encoder.start();
        ConsoleAppender<ILoggingEvent> err = new ConsoleAppender<>();
        err.setContext(ctx);
        err.setTarget("System.err");
        err.setEncoder(encoder);
        err.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.WARN);
        root.addAppender(err);
        // libtorch without CUDA: the GPU probe's warning is expected on CPU machines
        ctx.getLogger("ai.djl.util.cuda.CudaUtils").setLevel(Level.ERROR);
    }
}
