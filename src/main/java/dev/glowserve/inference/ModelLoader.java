package dev.glowserve.inference;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ModelArtifact;

/** Opens a model artifact ("classpath:dir" or a folder) on a device, ready to serve. */
public final class ModelLoader {

    /** The model that ships inside the jar. */
    public static final String DEFAULT_MODEL = "classpath:models/fashion-mnist";

    private ModelLoader() {}

    public static ModelRunner open(String spec, Device device, int chunkSize) {
        ModelArtifact.Loaded loaded = ModelArtifact.load(ModelArtifact.Source.parse(spec),
                NDManager.newBaseManager(device), DataType.FLOAT32);
        String name = loaded.manifest().name();
        return new ModelRunner(name, loaded.manifest(), loaded.glow(), chunkSize, loaded.classMeans());
    }
}
