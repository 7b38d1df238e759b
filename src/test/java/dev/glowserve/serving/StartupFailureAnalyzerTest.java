package dev.glowserve.serving;

import ai.djl.engine.EngineException;
import org.junit.jupiter.api.Test;
import org.springframework.boot.diagnostics.FailureAnalysis;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;

import static org.assertj.core.api.Assertions.assertThat;

/** Start-up failures an operator can fix come out as one line naming the file and the reason. */
class StartupFailureAnalyzerTest {

    private final StartupFailureAnalyzer analyzer = new StartupFailureAnalyzer();

    @Test
    void aFolderTheServiceCannotWriteIsNamedWithItsReason() {
        // as Tomcat fails on a read-only root without the chart's /tmp emptyDir
        RuntimeException failure = new IllegalStateException("Unable to start web server", new RuntimeException(
                "Unable to create tempDir", new FileSystemException("/tmp/tomcat.8080.123", null, "Read-only file system")));
        FailureAnalysis a = analyzer.analyze(failure);
        assertThat(a.getDescription()).isEqualTo("could not write /tmp/tomcat.8080.123 (Read-only file system)");
        assertThat(a.getAction()).contains("/tmp").contains("emptyDir");
    }

    @Test
    void nativesThatWouldHaveToBeUnpackedAtRunTimeAreNamedAsSuch() {
        // what DJL throws when its engine cache is read-only and the natives are not in it
        RuntimeException failure = new EngineException("Failed to load PyTorch native library", new IllegalStateException(
                "Failed to extract PyTorch native library", new AccessDeniedException("/opt/djl/engine/pytorch/tmp42")));
        FailureAnalysis a = analyzer.analyze(failure);
        assertThat(a.getDescription()).startsWith("PyTorch's native libraries are not in place: could not write "
                + "/opt/djl/engine/pytorch/tmp42 (permission denied)").doesNotContain("\n");
        assertThat(a.getAction()).contains("ENGINE_CACHE_DIR");
    }

    @Test
    void otherFailuresAreLeftToSpring() {
        assertThat(analyzer.analyze(new IllegalStateException("something else"))).isNull();
    }
}
