package dev.glowserve.flow;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The scripted pass for another runtime (a CUDA PyTorch, say): the archive libtorch compiles
 * ({@code GlowInference.pt}, the shipped TorchScript source), the arguments {@link ScriptedPass} binds, with every
 * weight under the name the script reads it by ({@code arguments.safetensors}: {@code steps.L.K.NAME},
 * {@code levels.L.NAME}), and the rest of them as JSON ({@code arguments.json}). The routes are the untuned table
 * without oneDNN, the one every device runs.
 */
public final class ScriptExport {

    private ScriptExport() {}

    /** Writes the three files into {@code dir} (created if missing). */
    public static void write(Glow glow, Path dir, Map<String, Object> extra) throws IOException {
        Files.createDirectories(dir);
        String source = GlowScript.shippedSource();
        Files.write(dir.resolve("GlowInference.pt"), ScriptModule.archive(GlowScript.CLASS_NAME, source));
        InferenceRoutes routes = InferenceRoutes.of(glow.config(), false);
        try (ScriptedPass pass = new ScriptedPass(glow, routes, ScriptedPass.compile(glow, source));
             NDManager m = glow.manager().newSubManager()) {
            ScriptedPass.Arguments a = pass.arguments();
            NDList tensors = new NDList();
            List<List<String>> stepKeys = new ArrayList<>();
            for (int l = 0; l < a.steps().size(); l++) {
                List<Map<String, NDArray>> steps = a.steps().get(l);
                for (int k = 0; k < steps.size(); k++) {
                    for (var e : steps.get(k).entrySet()) {
                        tensors.add(named(m, e.getValue(), "steps." + l + "." + k + "." + e.getKey()));
                    }
                }
                stepKeys.add(List.copyOf(steps.get(0).keySet()));
            }
            List<List<String>> levelKeys = new ArrayList<>();
            for (int l = 0; l < a.levels().size(); l++) {
                for (var e : a.levels().get(l).entrySet()) {
                    tensors.add(named(m, e.getValue(), "levels." + l + "." + e.getKey()));
                }
                levelKeys.add(List.copyOf(a.levels().get(l).keySet()));
            }
            try (OutputStream out = Files.newOutputStream(dir.resolve("arguments.safetensors"))) {
                tensors.encode(out, NDList.Encoding.SAFETENSORS);
            }
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("steps_per_level", a.steps().stream().map(List::size).toList());
            json.put("step_keys", stepKeys);
            json.put("level_keys", levelKeys);
            json.put("routes", a.routes());
            json.put("settings", a.settings());
            json.put("log_norm", a.logNorm());
            json.put("constant_log_det", a.constantLogDet());
            json.put("bounds", a.bounds());
            json.put("data_type", glow.parameters().dataType() == DataType.FLOAT64 ? "float64" : "float32");
            json.putAll(extra);
            Files.write(dir.resolve("arguments.json"), tools.jackson.databind.json.JsonMapper.builder().build()
                    .writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
        }
    }

    private static NDArray named(NDManager m, NDArray a, String name) {
        NDArray copy = a.toDevice(ai.djl.Device.cpu(), true);
        copy.attach(m);
        copy.setName(name);
        return copy;
    }
}
