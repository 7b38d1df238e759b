package dev.glowserve.serving;

import dev.glowserve.api.TestModels;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.util.unit.DataSize;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

/** A model repository under either kind of model control: what is served at start, load, swap, unload, bad artifacts. */
class ModelRegistryTest {

    @TempDir
    Path repo;

    /** Jobs wait up to 1 s for company, so a test can see them queued. */
    static GlowProperties properties(List<GlowProperties.ModelSpec> models, Path repo, GlowProperties.ModelControl control) {
        return properties(models, repo, control, List.of());
    }

    static GlowProperties properties(List<GlowProperties.ModelSpec> models, Path repo, GlowProperties.ModelControl control,
            List<String> loadModels) {
        return new GlowProperties("cpu", models, repo == null ? null : repo.toString(), control, loadModels,
                new GlowProperties.Limits(64, 64, 2.0, 64, DataSize.ofMegabytes(8), 1 << 20, 1000,
                        java.time.Duration.ofSeconds(10), DataSize.ofMegabytes(256), DataSize.ofGigabytes(2)),
                new GlowProperties.Batching(64, Duration.ofMillis(1000), 64, Duration.ofSeconds(30), Duration.ofSeconds(5), 1, 2, 2),
                new GlowProperties.Inference(true, true, false, "off"),
                new GlowProperties.DriftSettings(200, Duration.ofMinutes(10), 0.05, 20));
    }

    static byte[] image(long seed) {
        byte[] b = new byte[784];
        new Random(seed).nextBytes(b);
        return b;
    }

    static double bitsPerDim(ModelRegistry registry, String model, byte[] image) throws Exception {
        try (ServedModel.Lease lease = registry.lease(model)) {
            return lease.model().scheduler().encode(List.of(image), null).get(30, TimeUnit.SECONDS).get(0).score().bitsPerDim();
        }
    }

    /** Triton's --load-model: explicit control loads the named models (or all, with *) at start-up, the rest on request. */
    @Test
    void explicitControlLoadsTheNamedModelsAtStartUp() throws Exception {
        TestModels.version(repo, "a", "1", 11);
        TestModels.version(repo, "a", "2", 12);
        TestModels.version(repo, "b", "1", 13);
        for (var c : List.of(java.util.Map.entry(List.of("a"), List.of("a")), java.util.Map.entry(List.of("*"), List.of("a", "b")),
                java.util.Map.entry(List.<String>of(), List.<String>of()))) {
            GlowProperties props = properties(List.of(), repo, GlowProperties.ModelControl.EXPLICIT, c.getKey());
            ModelRegistry registry = new ModelRegistry(props, new SimpleMeterRegistry());
            RepositoryControl control = new RepositoryControl(registry, props);
            try {
                registry.start();
                assertThat(registry.models()).as("glow.load-models=" + c.getKey()).extracting(ServedModel::name)
                        .containsExactlyElementsOf(c.getValue());
                if (c.getValue().contains("a")) {
                    assertThat(registry.model("a").version()).isEqualTo("2");
                }
            } finally {
                registry.stop();
                registry.destroy();
            }
        }
        GlowProperties unknown = properties(List.of(), repo, GlowProperties.ModelControl.EXPLICIT, List.of("c"));
        assertThatThrownBy(() -> new RepositoryControl(new ModelRegistry(unknown, new SimpleMeterRegistry()), unknown))
                .hasMessageContaining("glow.load-models names 'c'");
    }

    @Test
    void withoutExplicitControlTheRepositorysHighestVersionsServeAndCannotBeChanged() throws Exception {
        TestModels.version(repo, "a", "1", 11);
        TestModels.version(repo, "a", "10", 12); // numerically highest, though "2" sorts after it as text
        TestModels.version(repo, "a", "2", 13);
        TestModels.truncatedVersion(repo, "b", "1");
        Files.createDirectories(repo.resolve("a/not-a-version"));
        Files.createDirectories(repo.resolve("c/1")); // no manifest: not a version
        GlowProperties props = properties(List.of(), repo, GlowProperties.ModelControl.NONE);
        ModelRegistry registry = new ModelRegistry(props, new SimpleMeterRegistry());
        RepositoryControl control = new RepositoryControl(registry, props);
        try {
            registry.start();
            assertThat(registry.models()).extracting(ServedModel::name, ServedModel::version,
                    ServedModel::available).containsExactly(tuple("a", "10", true),
                    tuple("b", "1", false));
            assertThat(registry.model("b").error()).contains("weights.safetensors");
            assertThat(control.index()).extracting(RepositoryControl.IndexEntry::name, RepositoryControl.IndexEntry::version,
                    RepositoryControl.IndexEntry::state).containsExactly(tuple("a", "1", "UNAVAILABLE"),
                    tuple("a", "2", "UNAVAILABLE"), tuple("a", "10", "READY"),
                    tuple("b", "1", "UNAVAILABLE"));
            assertThatThrownBy(() -> control.load("a", "1")).isInstanceOf(ClientError.class)
                    .hasMessageContaining("glow.model-control is none");
            assertThatThrownBy(() -> control.unload("a")).isInstanceOf(ClientError.class)
                    .hasMessageContaining("cannot be unloaded");
            assertThat(registry.model("a").version()).isEqualTo("10");
        } finally {
            registry.stop();
            registry.destroy();
        }
    }

    @Test
    void configuredModelsCannotBeChangedWithoutARepository() {
        GlowProperties props = properties(List.of(new GlowProperties.ModelSpec(TestModels.tiny(), "m", null)), null,
                GlowProperties.ModelControl.EXPLICIT);
        ModelRegistry registry = new ModelRegistry(props, new SimpleMeterRegistry());
        RepositoryControl control = new RepositoryControl(registry, props);
        try {
            assertThatThrownBy(() -> control.load("m", null)).isInstanceOf(ClientError.class)
                    .hasMessageContaining("glow.model-repository is not set");
            assertThat(control.index()).extracting(RepositoryControl.IndexEntry::name, RepositoryControl.IndexEntry::version,
                    RepositoryControl.IndexEntry::state).containsExactly(tuple("m", "3", "READY"));
        } finally {
            registry.destroy();
        }
    }

    @Test
    void explicitControlLoadsSwapsAndKeepsTheServedVersionWhenANewOneIsBad() throws Exception {
        TestModels.version(repo, "m", "1", 21);
        TestModels.version(repo, "m", "2", 22);
        TestModels.truncatedVersion(repo, "m", "3");
        TestModels.mismatchedVersion(repo, "m", "4");
        GlowProperties props = properties(List.of(), repo, GlowProperties.ModelControl.EXPLICIT);
        ModelRegistry registry = new ModelRegistry(props, new SimpleMeterRegistry());
        RepositoryControl control = new RepositoryControl(registry, props);
        try {
            registry.start();
            assertThat(registry.models()).as("explicit control loads nothing at start").isEmpty();
            assertThatThrownBy(() -> registry.lease("m")).isInstanceOf(ModelRegistry.UnknownModel.class);

            // the highest version is the mismatched one: refused, with what does not fit
            assertThatThrownBy(() -> control.load("m", null)).isInstanceOf(ClientError.class)
                    .hasMessageContaining("version 4 failed to load");
            assertThat(registry.models()).isEmpty();
            control.load("m", "1");
            byte[] x = image(5);
            double v1 = bitsPerDim(registry, "m", x);
            ServedModel first = registry.model("m");

            assertThatThrownBy(() -> control.load("m", "3")).isInstanceOf(ClientError.class)
                    .hasMessageContaining("version 3 failed to load").hasMessageContaining("the served version stays");
            assertThat(registry.model("m")).isSameAs(first);
            assertThat(bitsPerDim(registry, "m", x)).isEqualTo(v1);
            assertThat(control.index()).filteredOn(e -> e.version().equals("3")).singleElement()
                    .satisfies(e -> assertThat(e.reason()).contains("weights.safetensors"));
            assertThatThrownBy(() -> control.load("m", "7")).isInstanceOf(ClientError.class)
                    .hasMessageContaining("no version '7' of model 'm'");
            assertThatThrownBy(() -> control.load("zz", null)).isInstanceOf(ClientError.class)
                    .hasMessageContaining("no model 'zz'");

            // a request holding version 1 when version 2 comes in finishes on version 1
            ServedModel.Lease held = registry.lease("m");
            CompletableFuture<List<ModelRunner.Encoded>> queued = held.model().scheduler().encode(List.of(x), null);
            CompletableFuture<ServedModel> swap = CompletableFuture.supplyAsync(() -> control.load("m", "2"));
            Thread.sleep(300);
            assertThat(swap).as("the swap waits for the request holding version 1").isNotDone();
            assertThat(registry.model("m").version()).as("new requests already go to version 2").isEqualTo("2");
            assertThat(queued.get(30, TimeUnit.SECONDS).get(0).score().bitsPerDim()).isEqualTo(v1);
            held.close();
            assertThat(swap.get(30, TimeUnit.SECONDS).version()).isEqualTo("2");
            assertThat(first.scheduler().accepting()).as("version 1 drained").isFalse();
            assertThat(first.scheduler().queued()).isZero();
            assertThat(bitsPerDim(registry, "m", x)).isNotEqualTo(v1);
            assertThat(control.index()).extracting(RepositoryControl.IndexEntry::version, RepositoryControl.IndexEntry::state)
                    .containsExactly(tuple("1", "UNAVAILABLE"), tuple("2", "READY"),
                            tuple("3", "UNAVAILABLE"), tuple("4", "UNAVAILABLE"));
        } finally {
            registry.stop();
            registry.destroy();
        }
    }

    @Test
    void unloadFinishesTheQueuedWorkThenTheModelIsGone() throws Exception {
        TestModels.version(repo, "m", "1", 31);
        GlowProperties props = properties(List.of(), repo, GlowProperties.ModelControl.EXPLICIT);
        ModelRegistry registry = new ModelRegistry(props, new SimpleMeterRegistry());
        RepositoryControl control = new RepositoryControl(registry, props);
        try {
            registry.start();
            control.load("m", null);
            List<CompletableFuture<List<ModelRunner.Encoded>>> queued = new ArrayList<>();
            List<ServedModel.Lease> leases = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                ServedModel.Lease lease = registry.lease("m");
                leases.add(lease);
                queued.add(lease.model().scheduler().encode(List.of(image(i)), null).whenComplete((r, e) -> lease.close()));
            }
            ServedModel entry = registry.model("m");
            assertThat(queued).as("all four wait for company (1 s)").allSatisfy(q -> assertThat(q).isNotDone());
            control.unload("m"); // returns once they are done
            for (CompletableFuture<List<ModelRunner.Encoded>> q : queued) {
                assertThat(q).isCompleted();
                assertThat(q.get().get(0).score().bitsPerDim()).isFinite();
            }
            assertThat(entry.scheduler().accepting()).isFalse();
            assertThatThrownBy(() -> registry.lease("m")).isInstanceOf(ModelRegistry.UnknownModel.class);
            assertThatThrownBy(() -> control.unload("m")).isInstanceOf(ModelRegistry.UnknownModel.class);
            assertThat(control.index()).singleElement().satisfies(e -> {
                assertThat(e.state()).isEqualTo("UNAVAILABLE");
                assertThat(e.reason()).isEqualTo("unloaded");
            });
            control.load("m", "1");
            assertThat(bitsPerDim(registry, "m", image(0))).isEqualTo(queued.get(0).get().get(0).score().bitsPerDim());
        } finally {
            registry.stop();
            registry.destroy();
        }
    }
}
