package dev.glowserve.api;

import dev.glowserve.serving.ModelRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 2,000+ requests from 8 threads: every answer equals the single-threaded one, and neither the
 * native arrays held by the models nor the process's resident memory keeps growing.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApiLoadTest extends ApiTestBase {

    @Autowired
    ModelRegistry registry;

    private record Call(String path, Object body) {}

    private List<Call> calls() {
        List<Call> calls = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            calls.add(new Call("/v1/models/tiny/sample", Map.of("n", 1 + i % 3, "seed", i, "class", i % 4)));
            calls.add(new Call("/v1/models/peer/sample", Map.of("n", 1, "seed", 100 + i, "temperature", 0.9)));
            calls.add(new Call("/v1/models/peer/log-likelihood", Map.of("images", List.of(pngBase64(randomImage(i))))));
            calls.add(new Call("/v1/models/tiny/encode", Map.of("images", List.of(pngBase64(randomImage(50 + i))))));
        }
        return calls;
    }

    private int nativeArrays() {
        return dev.glowserve.serving.ServingProbes.managedArrays(registry);
    }

    private static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    /**
     * Memory the JVM itself has committed (heap, metaspace, code cache), KB: the heap may grow in the
     * middle of a run because of what earlier tests in this JVM left, which is not the service's growth.
     */
    private static long jvmCommittedKb() {
        var memory = java.lang.management.ManagementFactory.getMemoryMXBean();
        return (memory.getHeapMemoryUsage().getCommitted() + memory.getNonHeapMemoryUsage().getCommitted()) / 1024;
    }

    /** Same values; floats equal to 1e-5 relative (batched kernels may round differently), images pixel for pixel. */
    private static void assertSame(JsonNode want, JsonNode got, String where) {
        if (want.isNumber()) {
            double a = want.asDouble(), b = got.asDouble();
            assertThat(b).as(where).isCloseTo(a, org.assertj.core.data.Offset.offset(1e-5 * Math.max(1, Math.abs(a))));
        } else if (want.isObject()) {
            assertThat(got.propertyNames()).as(where).containsExactlyInAnyOrderElementsOf(want.propertyNames());
            for (String k : want.propertyNames()) {
                if (k.equals("png")) {
                    assertThat(decodePng(got.get(k).asString())).as(where + ".png").isEqualTo(decodePng(want.get(k).asString()));
                } else {
                    assertSame(want.get(k), got.get(k), where + "." + k);
                }
            }
        } else if (want.isArray()) {
            assertThat(got.size()).as(where).isEqualTo(want.size());
            for (int i = 0; i < want.size(); i++) {
                assertSame(want.get(i), got.get(i), where + "[" + i + "]");
            }
        } else {
            assertThat(got).as(where).isEqualTo(want);
        }
    }

    private int run(List<Call> calls, List<JsonNode> expected, int total, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            futures.add(pool.submit(() -> {
                int i;
                while ((i = next.getAndIncrement()) < total) {
                    int k = (i * 7) % calls.size();
                    Reply r = post(calls.get(k).path(), calls.get(k).body());
                    if (r.status() != 200) {
                        failures.incrementAndGet();
                        throw new AssertionError("request " + i + ": " + r.status() + " " + r.text());
                    }
                    assertSame(expected.get(k), r.json(), calls.get(k).path());
                }
                return null;
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
        pool.shutdown();
        return failures.get();
    }

    @Test
    void concurrentAnswersEqualSingleThreadedOnesAndMemoryStaysFlat() throws Exception {
        List<Call> calls = calls();
        List<JsonNode> expected = new ArrayList<>();
        for (Call c : calls) {
            Reply r = post(c.path(), c.body());
            assertThat(r.status()).isEqualTo(200);
            expected.add(r.json());
        }
        run(calls, expected, 300, 8); // warm-up: caches, allocator pools, JIT
        System.gc();
        int arraysBefore = nativeArrays();
        long rss0 = rssKb();
        assertThat(run(calls, expected, 1200, 8)).isZero();
        long rss1 = rssKb();
        long jvm1 = jvmCommittedKb();
        assertThat(run(calls, expected, 1200, 8)).isZero();
        long rss2 = rssKb();
        long jvm2 = jvmCommittedKb();
        int arraysAfter = nativeArrays();
        System.out.printf("RSS: %d MB after warm-up, %d MB after 1200 more requests, %d MB after 2400; JVM committed %d -> %d MB;"
                + " native arrays %d -> %d%n", rss0 / 1024, rss1 / 1024, rss2 / 1024, jvm1 / 1024, jvm2 / 1024, arraysBefore, arraysAfter);
        assertThat(arraysAfter).as("arrays held by the models' managers").isEqualTo(arraysBefore);
        // the second 1200 requests may not grow the process outside the JVM's own heap and code by more
        // than 5% (or 64 MB, on a small process)
        long nativeGrowth = (rss2 - rss1) - Math.max(0, jvm2 - jvm1);
        assertThat(nativeGrowth).as("RSS growth outside the JVM's committed memory over the last 1200 requests, KB")
                .isLessThan(Math.max(64 * 1024, rss1 / 20));
    }
}
