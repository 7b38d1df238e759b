package dev.glowserve.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;

import java.util.Locale;

/** {@code glow.device = auto | cpu | gpu | gpu:N} (docs/DESIGN.md). */
public final class Devices {

    private Devices() {}

    /** The device a setting names; a GPU that the engine does not report fails with one clear line. */
    public static Device select(String setting) {
        String s = setting == null ? "auto" : setting.trim().toLowerCase(Locale.ROOT);
        TorchWarnings.quiet();
        int gpus = Engine.getInstance().getGpuCount();
        if (s.equals("auto")) {
            return gpus > 0 ? Device.gpu(0) : Device.cpu();
        }
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        if (s.equals("gpu") || s.startsWith("gpu:")) {
            int index = 0;
            if (s.startsWith("gpu:")) {
                try {
                    index = Integer.parseInt(s.substring(4));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("glow.device=" + setting + " is not auto, cpu, gpu or gpu:N");
                }
            }
            if (index < 0 || index >= gpus) {
                throw new IllegalStateException("glow.device=" + setting + " but the " + Engine.getInstance().getEngineName()
                        + " engine reports " + gpus + " GPU" + (gpus == 1 ? "" : "s")
                        + (gpus == 0 ? " (no CUDA device or no CUDA build of libtorch)" : ""));
            }
            return Device.gpu(index);
        }
        throw new IllegalArgumentException("glow.device=" + setting + " is not auto, cpu, gpu or gpu:N");
    }

    /**
     * Whether {@code setting} surely selects the CPU, known without starting the engine: {@code cpu}, or {@code auto}
     * where CUDA reports no device (the engine's GPU count is CUDA's).
     */
    public static boolean surelyCpu(String setting) {
        String s = setting == null ? "auto" : setting.trim().toLowerCase(Locale.ROOT);
        return s.equals("cpu") || (s.equals("auto") && ai.djl.util.cuda.CudaUtils.getGpuCount() == 0);
    }

    /** "cpu" or "gpu:N", as shown in logs, model info and health. */
    public static String describe(Device device) {
        return device.isGpu() ? "gpu:" + device.getDeviceId() : "cpu";
    }
}
