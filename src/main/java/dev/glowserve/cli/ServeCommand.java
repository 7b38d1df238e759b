package dev.glowserve.cli;

import dev.glowserve.GlowServeApplication;
import org.springframework.boot.SpringApplication;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Starts the HTTP service; every other argument goes to Spring ({@code --server.port=9090}, {@code --glow.device=cpu}, ...). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the HTTP service on the configured models (default: the shipped Fashion-MNIST model).",
                "Spring options pass through, e.g. --server.port=9090 --glow.device=cpu --glow.models[0].path=DIR"})
public final class ServeCommand implements Runnable {

    @Unmatched
    List<String> springArgs = new ArrayList<>();

    /**
     * The service writes to java.io.tmpdir (Tomcat's work folder, uploads, JNA's library): a folder it cannot
     * write stops start-up at once with one line naming it, instead of a failure deep inside Tomcat.
     */
    static String unwritableTmpDir() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try {
            Files.delete(Files.createTempFile(tmp, "glow-serve", ".check"));
            return null;
        } catch (IOException | RuntimeException e) {
            String reason = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied" : e.toString();
            return "java.io.tmpdir=" + tmp + " is not writable (" + reason + "): mount a writable volume there "
                    + "(the Helm chart mounts an emptyDir at /tmp) or point -Djava.io.tmpdir at a writable folder";
        }
    }

    @Override
    public void run() {
        try {
            SpringApplication.run(GlowServeApplication.class, springArgs.toArray(new String[0]));
        } catch (RuntimeException e) {
            if (new dev.glowserve.serving.StartupFailureAnalyzer().analyze(e) != null) {
                throw new ReportedStartupFailure(e); // Spring has said what to fix in a few lines: no stack trace after it
            }
            throw e;
        }
    }

    /** A start-up failure that Spring Boot's failure report has already explained. */
    static final class ReportedStartupFailure extends RuntimeException {
        ReportedStartupFailure(Throwable cause) {
            super(cause.getMessage(), cause, false, false);
        }
    }
}
