package dev.glowserve.train;

import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.data.ImageSet;
import dev.glowserve.flow.Glow;
import dev.glowserve.runtime.ModelRunner;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * Held-out scoring during and after training: per-image bits/dim as the service computes them (mid-bin, the
 * marginal over classes for a class-conditional model), split over the trainer's workers.
 */
final class Evaluation {

    private final DataParallel workers;

    Evaluation(DataParallel workers) {
        this.workers = workers;
    }

    /** Per-image bits/dim of {@code glow} on {@code images}. */
    double[] perImageBitsPerDim(Glow glow, Manifest manifest, ImageSet images) {
        // the model is the trainer's: the runner frees only its own pass
        try (ModelRunner runner = ModelRunner.builder(manifest, glow).name("training").chunkSize(100).borrowing().build()) {
            List<byte[]> list = new ArrayList<>(images.count());
            for (int i = 0; i < images.count(); i++) {
                list.add(images.image(i));
            }
            int parts = Math.min(workers.workers(), list.size());
            List<Callable<List<ModelRunner.Score>>> calls = new ArrayList<>(parts);
            for (int w = 0; w < parts; w++) {
                List<byte[]> part = list.subList(list.size() * w / parts, list.size() * (w + 1) / parts);
                calls.add(() -> {
                    JniUtils.setGradMode(false);
                    return runner.score(part, null);
                });
            }
            return workers.onWorkers(calls).stream().flatMap(List::stream).mapToDouble(ModelRunner.Score::bitsPerDim).toArray();
        }
    }

    /** Mean bits/dim of {@code glow} on {@code images}. */
    double meanBitsPerDim(Glow glow, Manifest manifest, ImageSet images) {
        double[] v = perImageBitsPerDim(glow, manifest, images);
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }
}
