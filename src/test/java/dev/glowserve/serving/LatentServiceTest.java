package dev.glowserve.serving;

import dev.glowserve.api.TestModels;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.util.unit.DataSize;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A request's model work is dropped as a whole when the request ends first: interpolation's every encode included. */
class LatentServiceTest {

    /** Jobs wait for company for 1.5 s, so they are still queued when the client leaves. */
    static GlowProperties properties() {
        return new GlowProperties("cpu", List.of(new GlowProperties.ModelSpec(TestModels.tiny(), "m", null)), null, null, null,
                new GlowProperties.Limits(64, 64, 2.0, 64, DataSize.ofMegabytes(8), 1 << 20, 1000,
                        java.time.Duration.ofSeconds(10), DataSize.ofMegabytes(256), DataSize.ofGigabytes(2)),
                new GlowProperties.Batching(64, Duration.ofMillis(1500), 16, Duration.ofSeconds(30), Duration.ofSeconds(5), 1, 2, 2),
                new GlowProperties.Inference(true, true, false, "off"),
                new GlowProperties.DriftSettings(200, Duration.ofMinutes(10), 0.05, 20));
    }

    static byte[] image(long seed) {
        byte[] b = new byte[784];
        new Random(seed).nextBytes(b);
        return b;
    }

    static double processed(SimpleMeterRegistry meters) {
        return meters.find("glow.images.processed").counters().stream().mapToDouble(c -> c.count()).sum();
    }

    /**
     * With the path's class given, both end encodes are queued at once; without one, the encode that finds the class
     * comes first. Queued work waits for company for 1.5 s, so it is still queued when the client leaves.
     */
    @ParameterizedTest(name = "class given: {0}")
    @ValueSource(booleans = {true, false})
    void aRequestWhoseClientLeftRunsNoneOfItsEncodes(boolean classGiven) throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        ModelRegistry registry = new ModelRegistry(properties(), meters);
        registry.start();
        LatentService service = new LatentService(registry, properties(), meters, new InputMonitor(meters, properties(), registry));
        try {
            RequestWork work = new RequestWork();
            CompletableFuture<List<byte[]>> path = service.serve("m", t -> service.interpolate(t, new LatentService.PathEnd(image(1), null, null),
                    new LatentService.PathEnd(image(2), null, null), classGiven ? 1 : null, 5, "slerp", work));
            Thread.sleep(200); // the encodes are with the scheduler, queued or gathered into a batch that waits for company
            assertThat(path).isNotDone();
            work.cancel(); // what the web layer does when the request times out or its client goes away
            assertThatThrownBy(() -> path.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(CancellationException.class);
            double warmUp = processed(meters);
            Thread.sleep(2000); // past the queue delay: a job left alive would have run by now
            assertThat(processed(meters)).as("images the model processed for the abandoned request").isEqualTo(warmUp);

            // the same request, not abandoned, runs all its work
            CompletableFuture<List<byte[]>> kept = service.serve("m", t -> service.interpolate(t, new LatentService.PathEnd(image(1), null, null),
                    new LatentService.PathEnd(image(2), null, null), classGiven ? 1 : null, 5, "slerp", new RequestWork()));
            assertThat(kept.get(30, TimeUnit.SECONDS)).hasSize(5);
            double expected = warmUp + (classGiven ? 2 + 5 : 1 + 2 + 5);
            for (int i = 0; i < 100 && processed(meters) < expected; i++) {
                Thread.sleep(20); // a batch's count is recorded just after its results are handed out
            }
            assertThat(processed(meters)).isEqualTo(expected);
        } finally {
            service.shutdown();
            registry.stop();
            registry.destroy();
        }
    }

    @ParameterizedTest(name = "after {0} ms")
    @ValueSource(ints = {0, 50})
    void workQueuedAfterTheRequestEndedIsCancelledAsItIsQueued(int delay) throws Exception {
        RequestWork work = new RequestWork();
        work.cancel();
        Thread.sleep(delay);
        CompletableFuture<String> late = work.track(new CompletableFuture<>());
        assertThat(late).isCancelled();
        assertThat(work.cancelled()).isTrue();
        CompletableFuture<String> detached = RequestWork.detached().track(new CompletableFuture<>());
        assertThat(detached).isNotDone();
    }
}
