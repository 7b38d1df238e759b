package dev.glowserve.api;

import com.google.protobuf.ByteString;
import dev.glowserve.api.grpc.protocol.GRPCInferenceServiceGrpc;
import dev.glowserve.api.grpc.protocol.ModelInferRequest;
import dev.glowserve.api.grpc.protocol.ModelInferResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * gRPC under load and at shutdown, each on its own running application: a full queue is RESOURCE_EXHAUSTED with a
 * retry-after trailer, a client's deadline drops its queued work uncomputed, and SIGTERM (the context closing) lets a
 * call in flight finish while new calls are refused.
 */
class GrpcLifecycleTest {

    static ModelInferRequest sample(long seed) {
        return ModelInferRequest.newBuilder().setModelName("peer-sample")
                .addInputs(GrpcApiTest.input("TEMPERATURE", "FP32", 1)).addInputs(GrpcApiTest.input("SEED", "INT64", 1))
                .addRawInputContents(ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.7f).array()))
                .addRawInputContents(ByteString.copyFrom(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(seed).array()))
                .build();
    }

    static ModelInferRequest score() {
        return ModelInferRequest.newBuilder().setModelName("peer").addInputs(GrpcApiTest.input("IMAGES", "UINT8", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(TestModels.blob(1))).build();
    }

    static double count(ConfigurableApplicationContext ctx, String name, String... tags) {
        var c = ctx.getBean(MeterRegistry.class).find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void aFullQueueIsResourceExhaustedAndAClientsDeadlineDropsItsWork() throws Exception {
        int grpcPort = GrpcTestBase.freePort();
        // the one worker holds a sample for 3 s waiting for company; scores queue behind it (capacity 1)
        try (ConfigurableApplicationContext ctx = ServiceLifecycleTest.start("--glow.grpc.port=" + grpcPort,
                "--glow.batching.max-queue-delay=3s", "--glow.batching.queue-capacity=1", "--glow.batching.max-batch-size=1000",
                "--glow.batching.workers=1")) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", grpcPort).usePlaintext().build();
            try {
                var stub = GRPCInferenceServiceGrpc.newFutureStub(channel);
                var blocking = GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
                blocking.modelInfer(score()); // the connection and the classes warm, so that what follows keeps to its timing
                double computed = count(ctx, "glow.images.processed", "operation", "encode");
                var held = stub.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(sample(1));
                Thread.sleep(500);
                // queued behind the held sample with a 1 s deadline: the client gives up, the server drops the work
                var hurried = stub.withDeadlineAfter(1, TimeUnit.SECONDS).modelInfer(score());
                Thread.sleep(300);
                assertThatThrownBy(() -> blocking.modelInfer(score())).isInstanceOf(StatusRuntimeException.class).satisfies(e -> {
                    StatusRuntimeException s = (StatusRuntimeException) e;
                    assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(s.getTrailers().get(GrpcErrors.RETRY_AFTER)).isNotBlank();
                });
                assertThatThrownBy(() -> hurried.get(10, TimeUnit.SECONDS))
                        .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
                assertThat(held.get(10, TimeUnit.SECONDS).getOutputs(0).getName()).isEqualTo("IMAGES");
                Thread.sleep(200);
                assertThat(count(ctx, "glow.requests.cancelled")).as("the abandoned score left the queue").isEqualTo(1);
                assertThat(count(ctx, "glow.images.processed", "operation", "encode")).as("and was never computed").isEqualTo(computed);
                // with the queue free again, calls succeed
                assertThat(blocking.modelInfer(score()).getOutputsCount()).isEqualTo(2);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    @Test
    void shutdownLetsACallInFlightFinishAndRefusesNewOnes() throws Exception {
        int grpcPort = GrpcTestBase.freePort();
        ConfigurableApplicationContext ctx = ServiceLifecycleTest.start("--glow.grpc.port=" + grpcPort,
                "--glow.batching.max-queue-delay=1s", "--glow.batching.max-batch-size=1000", "--glow.batching.workers=1");
        ManagedChannel channel = NettyChannelBuilder.forAddress("localhost", grpcPort).usePlaintext().build();
        try {
            GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(score());
            var inFlight = GRPCInferenceServiceGrpc.newFutureStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(sample(2));
            Thread.sleep(200);
            CompletableFuture<Void> closing = CompletableFuture.runAsync(ctx::close);
            ModelInferResponse answered = inFlight.get(20, TimeUnit.SECONDS);
            assertThat(answered.getRawOutputContents(0).size()).isEqualTo(784);
            closing.get(60, TimeUnit.SECONDS);
            assertThatThrownBy(() -> GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .modelInfer(score())).satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        } finally {
            channel.shutdownNow();
            ctx.close();
        }
    }
}
