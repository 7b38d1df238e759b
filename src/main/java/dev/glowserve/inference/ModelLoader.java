package dev.glowserve.inference;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.flow.InferenceSettings;

/** Opens a model artifact ("classpath:dir" or a folder) on a device, ready to serve. */
public final class ModelLoader {

    /** The model that ships inside the jar. */
    public static final String DEFAULT_MODEL = "classpath:models/fashion-mnist";

    private ModelLoader() {}

    /** The model on the default inference pass. */
    public static ModelRunner open(String spec, Device device, int chunkSize) {
        return open(spec, device, chunkSize, InferenceSettings.DEFAULT);
    }

    /** The model on the inference pass {@code settings} choose, under its manifest's name. */
    public static ModelRunner open(String spec, Device device, int chunkSize, InferenceSettings settings) {
        return open(ModelArtifact.Source.parse(spec), device, chunkSize, settings, ModelArtifact.DEFAULT_MAX_MODEL_BYTES);
    }

    /** The model in {@code source}, refused before it is built if it would take more than {@code maxBytes}. */
    public static ModelRunner open(ModelArtifact.Source source, Device device, int chunkSize, InferenceSettings settings,
            long maxBytes) {
        ModelArtifact.Loaded loaded = ModelArtifact.load(source, NDManager.newBaseManager(device), DataType.FLOAT32, maxBytes);
        try {
            return new ModelRunner(loaded.manifest().name(), loaded.manifest(), loaded.glow(), chunkSize, loaded.classMeans(),
                    settings).withCalibration(loaded.calibration());
        } catch (RuntimeException e) {
            loaded.glow().close();
            throw e;
        }
    }
}
