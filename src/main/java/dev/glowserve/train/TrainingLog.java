package dev.glowserve.train;

import dev.glowserve.artifact.ModelArtifact;
import tools.jackson.databind.SerializationFeature;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;

/** Appends one JSON object per line, flushed at once so a crash loses nothing logged. */
final class TrainingLog implements AutoCloseable {

    private final BufferedWriter out;

    TrainingLog(Path file) {
        try {
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + file, e);
        }
    }

    synchronized void write(Map<String, ?> event) {
        try {
            Map<String, Object> sorted = new TreeMap<>(event);
            sorted.put("time", java.time.Instant.now().toString());
            out.write(ModelArtifact.JSON.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(sorted));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            out.close();
        } catch (IOException ignored) {
            // closing a log never fails a run
        }
    }
}
