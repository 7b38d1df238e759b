package dev.glowserve.artifact;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A calibration survives the artifact bit for bit, and a damaged one is refused naming what is wrong. */
class CalibrationTest {

    @TempDir
    Path dir;

    static Calibration sample() {
        Map<String, double[]> scores = new LinkedHashMap<>();
        scores.put("complexity", new double[] {-1.5, 0.25, -2.0000000000000004, 1e-300});
        scores.put("likelihood", new double[] {3.1, 2.9, 3.3, 3.0});
        return Calibration.of("test images 2..5", "png-up", 3.075, scores);
    }

    @Test
    void roundTripsThroughTheModelFolder() throws Exception {
        Calibration c = sample();
        assertThat(c.sorted("complexity")).containsExactly(-2.0000000000000004, -1.5, 1e-300, 0.25);
        c.write(dir);
        Calibration back = Calibration.read(ArtifactSource.folder(dir));
        assertThat(back.source()).isEqualTo("test images 2..5");
        assertThat(back.images()).isEqualTo(4);
        assertThat(back.compressor()).isEqualTo("png-up");
        assertThat(back.meanBitsPerDim()).isEqualTo(3.075);
        assertThat(back.scores().keySet()).containsExactly("complexity", "likelihood");
        assertThat(back.sorted("complexity")).containsExactly(c.sorted("complexity"));
        assertThat(back.sorted("likelihood")).containsExactly(2.9, 3.0, 3.1, 3.3);
        assertThat(Calibration.read(ArtifactSource.folder(dir.resolve("elsewhere")))).as("none: null").isNull();
    }

    @Test
    void aDamagedCalibrationIsRefusedNamingTheProblem() throws Exception {
        sample().write(dir);
        Path file = dir.resolve(Calibration.FILE);
        String good = Files.readString(file);
        Files.writeString(file, good.replaceFirst("2\\.9", "9.9"));
        assertThatThrownBy(() -> Calibration.read(ArtifactSource.folder(dir))).isInstanceOf(ArtifactException.class)
                .hasMessageContaining("scores.likelihood must be finite and sorted ascending");
        Files.writeString(file, good.replace("\"images\" : 4", "\"images\" : 5"));
        assertThatThrownBy(() -> Calibration.read(ArtifactSource.folder(dir))).hasMessageContaining("has 4 values for 5 images");
        Files.writeString(file, good.replace("\"compressor\" : \"png-up\",", ""));
        assertThatThrownBy(() -> Calibration.read(ArtifactSource.folder(dir))).hasMessageContaining("'compressor' is missing");
        Files.writeString(file, "{not json");
        assertThatThrownBy(() -> Calibration.read(ArtifactSource.folder(dir))).hasMessageContaining("not a valid calibration");
    }
}
