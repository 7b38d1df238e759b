package dev.glowserve.serving;

import ai.djl.ndarray.types.DataType;
import dev.glowserve.artifact.Architecture;
import dev.glowserve.artifact.Manifest;
import dev.glowserve.flow.FlowTestSupport;
import dev.glowserve.flow.Glow;
import dev.glowserve.flow.GlowConfig;
import dev.glowserve.flow.Latents;
import dev.glowserve.runtime.ModelRunner;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchSchedulerTest {

    static final GlowConfig CONFIG = new GlowConfig(1, 8, 8, 2, 2, 16, true, true, 0);
    static ModelRunner runner;

    @BeforeAll
    static void model() {
        Glow glow = FlowTestSupport.perturbedModel(CONFIG, DataType.FLOAT32, 5, 0.08);
        runner = ModelRunner.builder(new Manifest("m", "1", Architecture.of(CONFIG), 8, "x", null, null, null, null), glow).name("m").chunkSize(64).build();
    }

    @AfterAll
    static void close() {
        runner.close();
    }

    static BatchScheduler scheduler(int maxBatch, Duration delay, int capacity, Duration timeout, SimpleMeterRegistry meters) {
        return new BatchScheduler(runner, new BatchScheduler.Settings(maxBatch, delay, capacity, timeout, 1), meters);
    }

    static BatchScheduler scheduler(int maxBatch, Duration delay, int capacity, Duration timeout, int workers, SimpleMeterRegistry meters) {
        return new BatchScheduler(runner, new BatchScheduler.Settings(maxBatch, delay, capacity, timeout, workers), meters);
    }

    static byte[] image(long seed) {
        byte[] b = new byte[64];
        new Random(seed).nextBytes(b);
        return b;
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} worker(s)")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void batchedResultsEqualUnbatchedOnesSeedsIncluded(int workers) throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        BatchScheduler s = scheduler(64, Duration.ofMillis(50), 1000, Duration.ofSeconds(30), workers, meters);
        List<CompletableFuture<List<byte[]>>> samples = new ArrayList<>();
        List<CompletableFuture<List<ModelRunner.Encoded>>> scores = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            samples.add(s.decode(Latents.sample(CONFIG, 1 + i % 3, 0.8, i), null));
            scores.add(s.encode(List.of(image(i)), null));
        }
        for (int i = 0; i < 24; i++) {
            List<byte[]> alone = runner.decode(Latents.sample(CONFIG, 1 + i % 3, 0.8, i), null);
            List<byte[]> batched = samples.get(i).get(10, TimeUnit.SECONDS);
            assertThat(batched).hasSameSizeAs(alone);
            for (int k = 0; k < alone.size(); k++) {
                assertThat(batched.get(k)).as("sample seed %d image %d", i, k).isEqualTo(alone.get(k));
            }
            ModelRunner.Score one = runner.score(List.of(image(i)), null).get(0);
            ModelRunner.Score many = scores.get(i).get(10, TimeUnit.SECONDS).get(0).score();
            assertThat(many.logPNats()).isCloseTo(one.logPNats(), org.assertj.core.data.Offset.offset(1e-4 * Math.abs(one.logPNats())));
        }
        var batchSizes = meters.find("glow.batch.size").tag("operation", "decode").summary();
        assertThat(batchSizes.max()).as("requests were coalesced").isGreaterThan(3);
        assertThat(batchSizes.count()).isLessThan(24);
        s.close();
    }

    @Test
    void fullQueueRefusesWithARetryTime() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        // the worker holds the first decode while it waits 1 s for more; encodes don't batch with it and queue up
        BatchScheduler s = scheduler(1000, Duration.ofMillis(1000), 2, Duration.ofSeconds(30), meters);
        CompletableFuture<List<byte[]>> first = s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null);
        Thread.sleep(100);
        CompletableFuture<List<ModelRunner.Encoded>> q1 = s.encode(List.of(image(1)), null);
        CompletableFuture<List<ModelRunner.Encoded>> q2 = s.encode(List.of(image(2)), null);
        assertThatThrownBy(() -> s.encode(List.of(image(3)), null))
                .isInstanceOf(Overload.QueueFull.class)
                .satisfies(e -> assertThat(((Overload.QueueFull) e).retryAfterSeconds()).isGreaterThanOrEqualTo(1));
        assertThat(first.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(q1.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(q2.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(meters.find("glow.requests.rejected").tag("reason", "queue_full").counter().count()).isEqualTo(1);
        s.close();
    }

    @Test
    void requestsPastTheirDeadlineAreDroppedUncomputed() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        BatchScheduler s = scheduler(1000, Duration.ofMillis(400), 100, Duration.ofMillis(100), meters);
        CompletableFuture<List<byte[]>> first = s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null);
        Thread.sleep(20);
        CompletableFuture<List<ModelRunner.Encoded>> late = s.encode(List.of(image(1)), null);
        assertThat(first.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThatThrownBy(() -> late.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(Overload.DeadlineExceeded.class);
        assertThat(meters.find("glow.requests.deadline.expired").counter().count()).isEqualTo(1);
        // the meters exist from the start (registered once): the late encode added no image to them
        assertThat(meters.find("glow.images.processed").tag("operation", "encode").counter().count()).as("never computed")
                .isZero();
        s.close();
    }

    @Test
    void cancelledRequestsLeaveTheQueueAndAreNeverComputed() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        // the worker holds the first decode while it waits 1 s for company; the 32 encodes queue behind it
        BatchScheduler s = scheduler(1000, Duration.ofMillis(1000), 64, Duration.ofSeconds(30), meters);
        CompletableFuture<List<byte[]>> first = s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null);
        Thread.sleep(100);
        List<RequestWork> requests = new ArrayList<>();
        List<CompletableFuture<List<ModelRunner.Encoded>>> encodes = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            RequestWork work = new RequestWork();
            requests.add(work);
            encodes.add(s.encode(List.of(image(i)), null, work));
        }
        assertThat(s.queued()).isEqualTo(32);
        for (int i = 0; i < 32; i += 2) {
            requests.get(i).cancel(); // the client left, or cancelled its gRPC call
        }
        assertThat(s.queued()).as("cancelled work leaves the queue at once").isEqualTo(16);
        assertThat(first.get(10, TimeUnit.SECONDS)).hasSize(1);
        for (int i = 0; i < 32; i++) {
            if (i % 2 == 0) {
                assertThat(encodes.get(i)).isCancelled();
            } else {
                assertThat(encodes.get(i).get(10, TimeUnit.SECONDS)).hasSize(1);
            }
        }
        assertThat(meters.find("glow.images.processed").tag("operation", "encode").counter().count()).as("computed").isEqualTo(16);
        assertThat(meters.find("glow.requests.cancelled").counter().count()).isEqualTo(16);
        s.close();
    }

    @Test
    void aPriorityOneRequestOvertakesAFullQueueOfPriorityTwoWork() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        // batches of one request (two images each), so the order the queue gives is the order they are computed in
        BatchScheduler s = scheduler(2, Duration.ofMillis(600), 9, Duration.ofSeconds(30), meters);
        CompletableFuture<List<byte[]>> first = s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null);
        Thread.sleep(100);
        List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
        List<CompletableFuture<?>> all = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            String name = "low-" + i;
            all.add(s.encode(List.of(image(i), image(i + 100)), null, new RequestWork().priority(2)).thenRun(() -> order.add(name)));
        }
        assertThat(s.queued()).isEqualTo(8);
        all.add(s.encode(List.of(image(50), image(51)), null, new RequestWork().priority(1)).thenRun(() -> order.add("high")));
        assertThat(s.queued()).as("the queue is full").isEqualTo(9);
        assertThatThrownBy(() -> s.encode(List.of(image(7)), null, new RequestWork().priority(1))).isInstanceOf(Overload.QueueFull.class);
        first.get(10, TimeUnit.SECONDS);
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        assertThat(order.get(0)).isEqualTo("high");
        assertThat(order.subList(1, 9)).containsExactly("low-0", "low-1", "low-2", "low-3", "low-4", "low-5", "low-6", "low-7");
        assertThatThrownBy(() -> s.encode(List.of(image(7)), null, new RequestWork().priority(3)))
                .isInstanceOf(dev.glowserve.runtime.ClientError.class).hasMessageContaining("1 (the highest) to 2");
        s.close();
    }

    @Test
    void aRequestsOwnDeadlineDropsItUncomputedBeforeTheServices() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        BatchScheduler s = scheduler(1000, Duration.ofMillis(400), 100, Duration.ofSeconds(30), meters);
        CompletableFuture<List<byte[]>> first = s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null);
        Thread.sleep(20);
        CompletableFuture<List<ModelRunner.Encoded>> hurried = s.encode(List.of(image(1)), null,
                new RequestWork().timeout(TimeUnit.MILLISECONDS.toNanos(100)));
        CompletableFuture<List<ModelRunner.Encoded>> patient = s.encode(List.of(image(2)), null, new RequestWork());
        assertThat(first.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThatThrownBy(() -> hurried.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(Overload.DeadlineExceeded.class).hasMessageContaining("the deadline it set");
        assertThat(patient.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(meters.find("glow.images.processed").tag("operation", "encode").counter().count()).isEqualTo(1);
        s.close();
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} worker(s)")
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    void drainFinishesInFlightWorkThenRefusesNewWork(int workers) throws Exception {
        BatchScheduler s = scheduler(8, Duration.ofMillis(30), 1000, Duration.ofSeconds(30), workers, new SimpleMeterRegistry());
        List<CompletableFuture<List<byte[]>>> inFlight = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            inFlight.add(s.decode(Latents.sample(CONFIG, 2, 0.7, i), null));
        }
        s.drain(Duration.ofSeconds(20));
        for (CompletableFuture<List<byte[]>> f : inFlight) {
            assertThat(f).isCompleted();
            assertThat(f.get()).hasSize(2);
        }
        assertThat(s.accepting()).isFalse();
        assertThatThrownBy(() -> s.decode(Latents.sample(CONFIG, 1, 0.7, 1), null)).isInstanceOf(Overload.ShuttingDown.class);
        s.close();
    }

    @Test
    void overloadIsShedThenEverythingSucceedsAgain() throws Exception {
        BatchScheduler s = scheduler(16, Duration.ofMillis(5), 8, Duration.ofSeconds(30), new SimpleMeterRegistry());
        ExecutorService pool = Executors.newFixedThreadPool(64);
        AtomicInteger shed = new AtomicInteger();
        AtomicInteger served = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<java.util.concurrent.Future<?>> tasks = new ArrayList<>();
        for (int t = 0; t < 64; t++) {
            int seed = t;
            tasks.add(pool.submit(() -> {
                go.await();
                for (int k = 0; k < 10; k++) {
                    try {
                        s.decode(Latents.sample(CONFIG, 4, 0.7, seed * 100 + k), null).get(30, TimeUnit.SECONDS);
                        served.incrementAndGet();
                    } catch (Overload.QueueFull e) {
                        shed.incrementAndGet();
                    }
                }
                return null;
            }));
        }
        go.countDown();
        for (var t : tasks) {
            t.get();
        }
        pool.shutdown();
        assertThat(shed.get()).as("load beyond the queue is shed").isPositive();
        assertThat(served.get()).isPositive();
        assertThat(served.get() + shed.get()).isEqualTo(640);
        for (int i = 0; i < 20; i++) { // load gone: every request succeeds
            assertThat(s.decode(Latents.sample(CONFIG, 1, 0.7, i), null).get(10, TimeUnit.SECONDS)).hasSize(1);
        }
        s.close();
    }

    @Test
    void oneBadRequestDoesNotFailItsBatch() throws Exception {
        BatchScheduler s = scheduler(64, Duration.ofMillis(100), 100, Duration.ofSeconds(30), new SimpleMeterRegistry());
        List<float[][]> bad = Latents.sample(CONFIG, 1, 0.7, 1);
        bad.get(0)[1] = new float[3]; // a level of the wrong size: the whole batch's tensor cannot be built
        CompletableFuture<List<byte[]>> good1 = s.decode(Latents.sample(CONFIG, 1, 0.7, 2), null);
        CompletableFuture<List<byte[]>> poison = s.decode(bad, null);
        CompletableFuture<List<byte[]>> good2 = s.decode(Latents.sample(CONFIG, 1, 0.7, 3), null);
        assertThat(good1.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThat(good2.get(10, TimeUnit.SECONDS)).hasSize(1);
        assertThatThrownBy(() -> poison.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("level 1 latent has 3 values");
        s.close();
    }

    @Test
    void aLoneBatchRunsOnAllCoresWithTheBitsOfAWorkersPass() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.getRuntime().availableProcessors() > 1, "one core: nothing to gain");
        // workers of one intra-op thread each, as the service runs them on a 2-core machine
        int callers = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        ai.djl.pytorch.jni.JniUtils.setNumThreads(1);
        try {
            SimpleMeterRegistry meters = new SimpleMeterRegistry();
            try (BatchScheduler s = scheduler(8, Duration.ofMillis(1), 16, Duration.ofSeconds(30), 2, meters)) {
                List<ModelRunner.Encoded> lone = s.encode(List.of(image(1), image(2)), null).get(30, TimeUnit.SECONDS);
                assertThat(meters.get("glow.batches.all.cores").counter().count()).isEqualTo(1.0);
                List<ModelRunner.Encoded> direct = runner.encode(List.of(image(1), image(2)), null);
                for (int i = 0; i < 2; i++) {
                    assertThat(lone.get(i).score().logPNats()).isEqualTo(direct.get(i).score().logPNats());
                    for (int l = 0; l < CONFIG.levels(); l++) {
                        assertThat(lone.get(i).eps()[l]).containsExactly(direct.get(i).eps()[l]);
                    }
                }
                // under load the workers run side by side on their own threads: the same answers
                List<CompletableFuture<List<ModelRunner.Encoded>>> many = new ArrayList<>();
                for (int k = 0; k < 12; k++) {
                    many.add(s.encode(List.of(image(1)), null));
                }
                for (CompletableFuture<List<ModelRunner.Encoded>> f : many) {
                    assertThat(f.get(30, TimeUnit.SECONDS).get(0).score().logPNats()).isEqualTo(direct.get(0).score().logPNats());
                }
            }
        } finally {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(callers);
        }
    }
}
