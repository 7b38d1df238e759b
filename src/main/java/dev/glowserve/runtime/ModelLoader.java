package dev.glowserve.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.ArtifactSource;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.artifact.ModelArtifact;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.InferenceSettings;

import java.util.function.UnaryOperator;

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
        return open(ArtifactSource.parse(spec), device, chunkSize, settings, ModelArtifact.DEFAULT_MAX_MODEL_BYTES);
    }

    /**
     * The model in {@code source} on the device {@code deviceSetting} names ({@link Devices#select}). Where the device
     * is surely the CPU, the routes' tuning child starts before the engine and the weights are loaded, so its start-up
     * overlaps both.
     */
    public static ModelRunner open(String spec, String deviceSetting, InferenceSettings settings,
            UnaryOperator<ModelRunner.Builder> more) {
        ArtifactSource source = ArtifactSource.parse(spec);
        long maxBytes = ModelArtifact.DEFAULT_MAX_MODEL_BYTES;
        Manifest manifest = ModelArtifact.readManifest(source, maxBytes);
        GlowConfig config = manifest.architecture().toConfig();
        RouteTuning.Pending routes = Devices.surelyCpu(deviceSetting)
                ? RouteTuning.prepare(config, DataType.FLOAT32, Device.cpu(), settings) : null;
        try {
            Device device = Devices.select(deviceSetting);
            if (routes == null) {
                routes = RouteTuning.prepare(config, DataType.FLOAT32, device, settings);
            }
            return open(source, manifest, device, maxBytes, routes, more);
        } finally {
            if (routes != null) {
                routes.close();
            }
        }
    }

    /**
     * The model in {@code source}, refused before it is built if it would take more than {@code maxBytes}. Where its
     * routes are to be tuned, the tuning child starts before the weights are read, so its start-up overlaps the load.
     */
    public static ModelRunner open(ArtifactSource source, Device device, int chunkSize, InferenceSettings settings,
            long maxBytes) {
        return open(source, device, settings, maxBytes, b -> b.chunkSize(chunkSize));
    }

    /** As above, the runner made as {@code more} sets it (name, version, chunk size, lanes) from the loaded model's. */
    public static ModelRunner open(ArtifactSource source, Device device, InferenceSettings settings, long maxBytes,
            UnaryOperator<ModelRunner.Builder> more) {
        Manifest manifest = ModelArtifact.readManifest(source, maxBytes);
        try (RouteTuning.Pending routes = RouteTuning.prepare(manifest.architecture().toConfig(), DataType.FLOAT32, device,
                settings)) {
            return open(source, manifest, device, maxBytes, routes, more);
        }
    }

    /** The model the manifest read once describes: the routes were settled for its architecture. */
    private static ModelRunner open(ArtifactSource source, Manifest manifest, Device device, long maxBytes,
            RouteTuning.Pending routes, UnaryOperator<ModelRunner.Builder> more) {
        ModelArtifact.Loaded loaded = ModelArtifact.load(source, manifest, NDManager.newBaseManager(device), DataType.FLOAT32,
                maxBytes);
        try {
            return more.apply(ModelRunner.builder(loaded.manifest(), loaded.glow()).classMeans(loaded.classMeans())
                    .calibration(loaded.calibration()).pass(RouteTuning.open(loaded.glow(), routes))).build();
        } catch (RuntimeException e) {
            loaded.glow().close();
            throw e;
        }
    }
}
