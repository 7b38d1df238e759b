package dev.glowserve.inference;

import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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

    static final GlowConfig CONDITIONAL = new GlowConfig(1, 8, 8, 2, 2, 16, true, true, 3);
    static ModelRunner runner;

    @BeforeAll
    static void model() {
        Glow glow = FlowTestSupport.perturbedModel(CONDITIONAL, DataType.FLOAT32, 5, 0.08);
        runner = new ModelRunner("m", new Manifest("m", "1", Architecture.of(CONDITIONAL), 8, "x", null, null, null, null), glow, 64);
    }

    @AfterAll
    static void close() {
        runner.close();
    }

    static byte[] image(long seed) {
        byte[] b = new byte[64];
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
        GlowProperties properties = new GlowProperties("cpu", List.of(new GlowProperties.ModelSpec("x", null)),
                new GlowProperties.Limits(64, 64, 2.0, 64, DataSize.ofMegabytes(8), 1 << 20, 1000),
                new GlowProperties.Batching(64, Duration.ofMillis(1500), 16, Duration.ofSeconds(30), Duration.ofSeconds(5), 1),
                new GlowProperties.Inference(true, true, false));
        try (BatchScheduler scheduler = new BatchScheduler(runner,
                new BatchScheduler.Settings(64, Duration.ofMillis(1500), 16, Duration.ofSeconds(30), 1), meters)) {
            LatentService service = new LatentService(null, properties, meters);
            LatentService.Target target = new LatentService.Target("m", scheduler);
            RequestWork work = new RequestWork();
            CompletableFuture<List<byte[]>> path = service.interpolate(target, new LatentService.PathEnd(image(1), null, null),
                    new LatentService.PathEnd(image(2), null, null), classGiven ? 1 : null, 5, "slerp", work);
            Thread.sleep(200); // the encodes are with the scheduler, queued or gathered into a batch that waits for company
            assertThat(path).isNotDone();
            work.cancel(); // what the web layer does when the request times out or its client goes away
            assertThatThrownBy(() -> path.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(CancellationException.class);
            Thread.sleep(2000); // past the queue delay: a job left alive would have run by now
            assertThat(processed(meters)).as("images the model processed for the abandoned request").isZero();

            // the same request, not abandoned, runs all its work
            CompletableFuture<List<byte[]>> kept = service.interpolate(target, new LatentService.PathEnd(image(1), null, null),
                    new LatentService.PathEnd(image(2), null, null), classGiven ? 1 : null, 5, "slerp", new RequestWork());
            assertThat(kept.get(30, TimeUnit.SECONDS)).hasSize(5);
            double expected = classGiven ? 2 + 5 : 1 + 2 + 5;
            for (int i = 0; i < 100 && processed(meters) < expected; i++) {
                Thread.sleep(20); // a batch's count is recorded just after its results are handed out
            }
            assertThat(processed(meters)).isEqualTo(expected);
            service.shutdown();
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
