package dev.glowserve.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.ArtifactException;
import dev.glowserve.artifact.AtomicFiles;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.artifact.Safetensors;
import dev.glowserve.flow.FlowParameters;
import dev.glowserve.flow.Glow;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One file holding all a resumed run needs: the model's tensors under their own names, Adam's
 * moments under {@code adam.mean.*} and {@code adam.variance.*}, the weight average's trained tensors
 * under {@code ema.*}, and the trainer's state as JSON bytes in the tensor {@code trainer.state}. Written atomically, so a kill mid-write leaves the
 * previous checkpoint whole.
 */
public final class Checkpoint {

    public static final String FILE = "checkpoint.safetensors";
    private static final String STATE = "trainer.state";
    private static final String MEAN = "adam.mean.";
    private static final String VARIANCE = "adam.variance.";
    private static final String AVERAGE = "ema.";

    /** Trainer state besides tensors. */
    public record State(
            @JsonProperty("step") long step,
            @JsonProperty("adam_updates") long adamUpdates,
            @JsonProperty("seconds") double seconds,
            @JsonProperty("bad_streak") int badStreak,
            @JsonProperty("skipped_steps") long skippedSteps,
            @JsonProperty("options") TrainOptions options,
            @JsonProperty("architecture") Architecture architecture,
            @JsonProperty("history") List<HistoryPoint> history) {}

    /** A checkpoint read back: state, model tensors, moments and the weight average (arrays in the given manager). */
    public record Loaded(State state, Map<String, NDArray> model, Map<String, NDArray> mean, Map<String, NDArray> variance,
            Map<String, NDArray> average) {}

    private Checkpoint() {}

    public static void write(Path file, State state, FlowParameters params, Adam adam, Map<String, NDArray> average)
            throws IOException {
        NDList list = new NDList();
        List<NDArray> temporary = new ArrayList<>();
        for (Map.Entry<String, FlowParameters.Entry> e : params.entries().entrySet()) {
            e.getValue().array().setName(e.getKey());
            list.add(e.getValue().array());
        }
        addMoments(list, temporary, MEAN, adam.mean());
        addMoments(list, temporary, VARIANCE, adam.variance());
        addMoments(list, temporary, AVERAGE, average);
        byte[] json = ModelArtifact.JSON.writeValueAsBytes(state);
        NDArray stateBytes = params.manager().create(ByteBuffer.wrap(json), new Shape(json.length), DataType.UINT8);
        stateBytes.setName(STATE);
        list.add(stateBytes);
        temporary.add(stateBytes);
        try {
            AtomicFiles.write(file, Safetensors.encode(list));
        } finally {
            temporary.forEach(NDArray::close);
        }
    }

    /** Moments and averages carry the parameter's name, so they are named through a view rather than renamed. */
    private static void addMoments(NDList list, List<NDArray> temporary, String prefix, Map<String, NDArray> moments) {
        moments.forEach((name, a) -> {
            NDArray view = a.reshape(a.getShape());
            view.setName(prefix + name);
            list.add(view);
            temporary.add(view);
        });
    }

    public static Loaded read(Path file, NDManager manager) {
        Map<String, NDArray> all = Safetensors.read(file, manager);
        NDArray stateBytes = all.remove(STATE);
        if (stateBytes == null) {
            throw new ArtifactException(file + ": not a training checkpoint (no " + STATE + ")");
        }
        State state = ModelArtifact.JSON.readValue(new String(stateBytes.toByteArray(), StandardCharsets.UTF_8), State.class);
        Map<String, NDArray> model = new LinkedHashMap<>();
        Map<String, NDArray> mean = new LinkedHashMap<>();
        Map<String, NDArray> variance = new LinkedHashMap<>();
        Map<String, NDArray> average = new LinkedHashMap<>();
        all.forEach((name, a) -> {
            if (name.startsWith(MEAN)) {
                mean.put(name.substring(MEAN.length()), a);
            } else if (name.startsWith(VARIANCE)) {
                variance.put(name.substring(VARIANCE.length()), a);
            } else if (name.startsWith(AVERAGE)) {
                average.put(name.substring(AVERAGE.length()), a);
            } else {
                model.put(name, a);
            }
        });
        return new Loaded(state, model, mean, variance, average);
    }

    /**
     * Puts the checkpoint in {@code file} back into {@code glow}'s weights, the optimiser's moments and the weight
     * average (null: the run has none), and gives the rest of the run's state; the checkpoint must be of the same
     * architecture and, with an average, have one.
     */
    public static State restore(Path file, Glow glow, Adam adam, WeightAverage average) {
        State s;
        try (NDManager scratch = glow.manager().newSubManager()) {
            Loaded ck = read(file, scratch);
            s = ck.state();
            Architecture mine = Architecture.of(glow.config());
            if (!mine.equals(s.architecture())) {
                throw new ArtifactException(file + ": checkpoint is for " + s.architecture() + ", not " + mine);
            }
            for (Map.Entry<String, FlowParameters.Entry> e : glow.parameters().entries().entrySet()) {
                NDArray src = ck.model().get(e.getKey());
                if (src == null) {
                    throw new ArtifactException(file + ": missing tensor '" + e.getKey() + "'");
                }
                src.copyTo(e.getValue().array());
            }
            adam.restore(ck.mean(), ck.variance(), s.adamUpdates());
            if (average != null) {
                if (ck.average().isEmpty()) {
                    throw new ArtifactException(file + ": no weight average in the checkpoint; resume with the "
                            + "run's own --ema (0 for a run without one)");
                }
                average.restore(ck.average());
            }
        }
        glow.markInitialized();
        glow.parameters().markUpdated();
        return s;
    }
}
