package dev.glowserve.api;

import dev.glowserve.api.Dtos.ImageResult;
import dev.glowserve.api.Dtos.ImagesResponse;
import dev.glowserve.api.Dtos.ModelInfo;
import dev.glowserve.api.Dtos.ModelList;
import dev.glowserve.data.Png;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.runtime.Devices;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ModelRegistry;
import dev.glowserve.serving.ServedModel;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Component;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** How the {@code /v1} API shows models and images: model descriptions, base64 PNGs, PNG grids and strips. */
@Component
class ModelViews {

    private final ModelRegistry registry;

    ModelViews(ModelRegistry registry) {
        this.registry = registry;
    }

    ModelList models() {
        return new ModelList(registry.views().stream().map(this::info).toList());
    }

    ModelInfo model(String name) {
        return info(registry.view(name));
    }

    private ModelInfo info(ServedModel.View v) {
        if (!v.available()) {
            return new ModelInfo(v.name(), null, v.state(), v.error(), null, null, null, null, null,
                    Devices.describe(registry.device()), null, null, null, null, null);
        }
        GlowConfig c = v.config();
        var m = v.manifest();
        List<List<Integer>> latentShapes = c.latentShapes().stream().map(s -> List.of(s[0], s[1], s[2])).toList();
        return new ModelInfo(v.name(), v.version(), v.state(), null,
                new Dtos.ArchitectureInfo(c.inChannels(), c.height(), c.width(), c.flowsPerLevel(), c.levels(),
                        c.hiddenChannels(), c.affine(), c.lu(), c.numClasses(), c.permutation().id()),
                List.of(c.inChannels(), c.height(), c.width()), latentShapes, m.bits(),
                c.conditional() ? (m.classNames() != null ? m.classNames() : defaultClassNames(c)) : null,
                Devices.describe(registry.device()), m.testBitsPerDim(), m.testBitsPerDimQuantiles(), m.testBitsPerDimDequantized(),
                v.parameters(),
                m.dataset());
    }

    private static List<String> defaultClassNames(GlowConfig c) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < c.numClasses(); i++) {
            names.add(Integer.toString(i));
        }
        return names;
    }

    static String png(byte[] pixels, GlowConfig c) {
        return Base64.getEncoder().encodeToString(Png.encode(pixels, c.inChannels(), c.height(), c.width()));
    }

    /** The images as one PNG: a square grid, or a strip in their order. */
    static byte[] grid(List<byte[]> images, GlowConfig c, boolean square) {
        int columns = square ? (int) Math.ceil(Math.sqrt(images.size())) : images.size();
        return Png.grid(images, c.inChannels(), c.height(), c.width(), columns, 1);
    }

    static ResponseEntity<byte[]> pngResponse(List<byte[]> images, LatentService.Target t, boolean square) {
        return ResponseEntity.ok().contentType(MediaType.IMAGE_PNG).body(grid(images, t.view().config(), square));
    }

    static ImagesResponse images(LatentService.Target t, List<byte[]> images, String source) {
        GlowConfig c = t.view().config();
        List<ImageResult> out = new ArrayList<>(images.size());
        for (byte[] image : images) {
            out.add(new ImageResult(png(image, c), null, null));
        }
        return new ImagesResponse(t.model(), out, source);
    }
}
