package dev.glowserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.Workers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The trainer's workers: each runs the forward and backward of one slice of every batch on its own replica of
 * the model, and their gradients are added in worker order, so a step does not depend on which thread finished
 * first. Worker 0 trains the main model itself; the others' replicas are synchronised from it before every step.
 */
final class DataParallel implements AutoCloseable {

    /** One worker's share of a batch: images {@code [from, to)} on {@code model}, back-propagated; returns its loss share. */
    interface Slice {
        double run(Glow model, int from, int to);
    }

    private static final NDIndex ALL = new NDIndex("...");

    private final Glow main;
    private final List<Glow> replicas = new ArrayList<>();
    private final ExecutorService pool;

    DataParallel(Glow main, int workers, long seed) {
        this.main = main;
        GlowConfig config = main.config();
        for (int w = 1; w < workers; w++) {
            replicas.add(Glow.create(config, NDManager.newBaseManager(), DataType.FLOAT32, seed));
        }
        this.pool = workers > 1 ? Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "train-worker");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    int workers() {
        return replicas.size() + 1;
    }

    /** Each worker's loss share of a batch of {@code n} images, after back-propagating it into its model. */
    double[] forwardBackward(int n, Slice slice) {
        if (replicas.isEmpty()) {
            return new double[] {slice.run(main, 0, n)};
        }
        synchroniseReplicas();
        int workers = workers();
        List<Callable<Double>> parts = new ArrayList<>(workers);
        for (int w = 0; w < workers; w++) {
            Glow model = w == 0 ? main : replicas.get(w - 1);
            int from = n * w / workers;
            int to = n * (w + 1) / workers;
            parts.add(() -> slice.run(model, from, to));
        }
        return Workers.invokeAll(pool, parts).stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** The batch's gradient per trainable parameter of the main model: the workers' gradients added in worker order. */
    List<NDArray> gradients(List<String> names, List<NDArray> trainable) {
        List<NDArray> grads = new ArrayList<>(trainable.size());
        for (NDArray p : trainable) {
            grads.add(p.getGradient());
        }
        for (Glow replica : replicas) {
            Map<String, FlowParameters.Entry> entries = replica.parameters().entries();
            for (int i = 0; i < names.size(); i++) {
                grads.set(i, grads.get(i).add(entries.get(names.get(i)).array().getGradient()));
            }
        }
        return grads;
    }

    void zeroGradients(List<NDArray> trainable) {
        for (NDArray p : trainable) {
            JniUtils.zeroGrad((PtNDArray) p);
        }
        for (Glow replica : replicas) {
            replica.parameters().entries().values().stream().filter(FlowParameters.Entry::trainable)
                    .forEach(e -> JniUtils.zeroGrad((PtNDArray) e.array()));
        }
    }

    /** {@code calls} side by side on the workers' threads (held-out scoring), results in order. */
    <T> List<T> onWorkers(List<Callable<T>> calls) {
        if (pool == null) {
            List<T> out = new ArrayList<>();
            for (Callable<T> c : calls) {
                try {
                    out.add(c.call());
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            return out;
        }
        return Workers.invokeAll(pool, calls);
    }

    /**
     * Copies the main model into each replica (in place, outside autograd): every tensor the first time,
     * afterwards only the trainable ones, the only ones an update changes.
     */
    private void synchroniseReplicas() {
        boolean gradMode = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            Map<String, FlowParameters.Entry> source = main.parameters().entries();
            for (Glow replica : replicas) {
                boolean first = !replica.initialized();
                for (Map.Entry<String, FlowParameters.Entry> e : replica.parameters().entries().entrySet()) {
                    if (first || e.getValue().trainable()) {
                        e.getValue().array().set(ALL, source.get(e.getKey()).array());
                    }
                }
                if (first) {
                    replica.markInitialized();
                    replica.parameters().requireGradients();
                }
                replica.parameters().markUpdated();
            }
        } finally {
            JniUtils.setGradMode(gradMode);
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
        replicas.forEach(Glow::close);
    }
}
