package dev.glowserve.api;

import com.google.protobuf.ByteString;
import dev.glowserve.api.grpc.protocol.GRPCInferenceServiceGrpc;
import dev.glowserve.api.grpc.protocol.InferParameter;
import dev.glowserve.api.grpc.protocol.InferTensorContents;
import dev.glowserve.api.grpc.protocol.ModelInferRequest;
import dev.glowserve.api.grpc.protocol.ModelInferResponse;
import dev.glowserve.api.grpc.protocol.ModelMetadataRequest;
import dev.glowserve.api.grpc.protocol.ModelMetadataResponse;
import dev.glowserve.api.grpc.protocol.ModelReadyRequest;
import dev.glowserve.api.grpc.protocol.RepositoryIndexRequest;
import dev.glowserve.api.grpc.protocol.ServerLiveRequest;
import dev.glowserve.api.grpc.protocol.ServerMetadataRequest;
import dev.glowserve.api.grpc.protocol.ServerReadyRequest;
import dev.glowserve.serving.RepositoryControl;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Open Inference Protocol over gRPC, called as a client calls it: over the network (Netty, the API key in
 * metadata) and in-process, with raw and typed contents. Its numbers are REST V2's; its errors are status codes.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class GrpcApiTest extends GrpcTestBase {

    static ManagedChannel network;

    @Autowired
    GrpcServer grpc;
    @Autowired
    V2Controller v2;
    @Autowired
    RepositoryControl repository;

    @BeforeAll
    static void connect() {
        network = NettyChannelBuilder.forAddress("localhost", GRPC_PORT).usePlaintext().maxInboundMessageSize(16 << 20).build();
    }

    @AfterAll
    static void disconnect() {
        network.shutdownNow();
    }

    static Metadata bearer(String key) {
        Metadata m = new Metadata();
        m.put(GrpcServer.AUTHORIZATION, "Bearer " + key);
        return m;
    }

    static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(Metadata headers) {
        return GRPCInferenceServiceGrpc.newBlockingStub(network).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub keyed() {
        return stub(bearer(KEY));
    }

    static ModelInferRequest.InferInputTensor.Builder input(String name, String datatype, long... shape) {
        ModelInferRequest.InferInputTensor.Builder t = ModelInferRequest.InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
        for (long d : shape) {
            t.addShape(d);
        }
        return t;
    }

    static byte[] images(int n) {
        byte[] all = new byte[n * 784];
        for (int i = 0; i < n; i++) {
            System.arraycopy(TestModels.blob(i), 0, all, i * 784, 784);
        }
        return all;
    }

    static double[] doubles(ByteString raw) {
        double[] v = new double[raw.size() / 8];
        raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(v);
        return v;
    }

    static int output(ModelInferResponse r, String name) {
        for (int i = 0; i < r.getOutputsCount(); i++) {
            if (r.getOutputs(i).getName().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no output " + name + " in " + r.getOutputsList());
    }

    @Test
    void healthAndLivenessAreOpenEverythingElseNeedsTheKey() {
        var open = stub(new Metadata());
        assertThat(open.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
        // the broken model is not ready, so neither is the server: as REST's /v2/health/ready says
        assertThat(open.serverReady(ServerReadyRequest.getDefaultInstance()).getReady())
                .isEqualTo(get("/v2/health/ready").json().get("ready").asBoolean());
        var health = HealthGrpc.newBlockingStub(network);
        assertThat(health.check(HealthCheckRequest.newBuilder().setService("tiny").build()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        assertThat(health.check(HealthCheckRequest.newBuilder().setService("broken").build()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);
        assertThatThrownBy(() -> health.check(HealthCheckRequest.newBuilder().setService("nope").build()))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND));

        for (var refused : List.of(open, stub(bearer("wrong")), stub(keyHeader("wrong")))) {
            assertThatThrownBy(() -> refused.serverMetadata(ServerMetadataRequest.getDefaultInstance()))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED))
                    .hasMessageContaining("API key");
        }
        assertThat(stub(keyHeader(KEY)).serverMetadata(ServerMetadataRequest.getDefaultInstance()).getExtensionsList())
                .contains("model_repository");
        assertThat(keyed().modelReady(ModelReadyRequest.newBuilder().setName("tiny-encode").build()).getReady()).isTrue();
        assertThat(keyed().repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build()).getModelsList())
                .extracting(m -> m.getName()).contains("tiny", "peer").doesNotContain("broken");
    }

    static Metadata keyHeader(String key) {
        Metadata m = new Metadata();
        m.put(GrpcServer.API_KEY, key);
        return m;
    }

    @Test
    void metadataIsRestsAndReflectionListsTheService() {
        ModelMetadataResponse m = keyed().modelMetadata(ModelMetadataRequest.newBuilder().setName("tiny-encode").build());
        JsonNode rest = get("/v2/models/tiny-encode").json();
        assertThat(m.getVersionsList()).containsExactly(rest.get("versions").get(0).asString());
        assertThat(m.getInputsList()).extracting(t -> t.getName()).containsExactly("IMAGES", "CLASS");
        assertThat(m.getOutputsList()).extracting(t -> t.getName()).containsExactly("EPS_0", "EPS_1", "LOG_P_NATS", "BITS_PER_DIM", "CLASS");
        assertThat(m.getInputs(0).getShapeList()).isEqualTo(JSON.convertValue(rest.get("inputs").get(0).get("shape"), List.class).stream()
                .map(x -> ((Number) x).longValue()).toList());

        List<ServerReflectionResponse> replies = new ArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        var requests = ServerReflectionGrpc.newStub(network).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bearer(KEY)))
                .serverReflectionInfo(new StreamObserver<>() {
                    public void onNext(ServerReflectionResponse r) {
                        replies.add(r);
                    }

                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        requests.onCompleted();
        done.join();
        assertThat(replies.get(0).getListServicesResponse().getServiceList()).extracting(s -> s.getName())
                .contains("inference.GRPCInferenceService", "grpc.health.v1.Health");
    }

    @Test
    void bitsPerDimAreRestsAndDecodeOfEncodeIsTheImageRawAndTyped() {
        byte[] pixels = images(3);
        ModelInferRequest.Builder score = ModelInferRequest.newBuilder().setModelName("tiny").setId("s1")
                .addInputs(input("IMAGES", "UINT8", 3, 1, 28, 28)).addRawInputContents(ByteString.copyFrom(pixels));
        ModelInferResponse raw = keyed().modelInfer(score.build());
        assertThat(raw.getId()).isEqualTo("s1");
        assertThat(raw.getOutputsList()).allSatisfy(o -> assertThat(o.hasContents()).isFalse());
        double[] grpcBpd = doubles(raw.getRawOutputContents(output(raw, "BITS_PER_DIM")));

        int[] values = new int[pixels.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = pixels[i] & 0xff;
        }
        JsonNode rest = post("/v2/models/tiny/infer", V2ProtocolTest.request(V2ProtocolTest.tensor("IMAGES", "UINT8",
                new long[] {3, 1, 28, 28}, values))).json();
        JsonNode restBpd = null;
        for (JsonNode o : rest.get("outputs")) {
            if (o.get("name").asString().equals("BITS_PER_DIM")) {
                restBpd = o.get("data");
            }
        }
        for (int i = 0; i < 3; i++) {
            assertThat(grpcBpd[i]).isCloseTo(restBpd.get(i).asDouble(), org.assertj.core.data.Percentage.withPercentage(1e-7));
        }

        // typed contents in, typed contents out: the same numbers
        InferTensorContents.Builder typed = InferTensorContents.newBuilder();
        for (int v : values) {
            typed.addUintContents(v);
        }
        ModelInferResponse t = keyed().modelInfer(ModelInferRequest.newBuilder().setModelName("tiny")
                .addInputs(input("IMAGES", "UINT8", 3, 1, 28, 28).setContents(typed)).build());
        assertThat(t.getRawOutputContentsCount()).isZero();
        assertThat(t.getOutputs(output(t, "BITS_PER_DIM")).getContents().getFp64ContentsList()).containsExactly(
                grpcBpd[0], grpcBpd[1], grpcBpd[2]);

        // encode, then decode its latents and class: the very pixels back
        ModelInferResponse enc = keyed().modelInfer(ModelInferRequest.newBuilder().setModelName("tiny-encode")
                .addInputs(input("IMAGES", "UINT8", 3, 1, 28, 28)).addRawInputContents(ByteString.copyFrom(pixels)).build());
        ModelInferRequest.Builder dec = ModelInferRequest.newBuilder().setModelName("tiny-decode");
        for (int i = 0; i < enc.getOutputsCount(); i++) {
            var o = enc.getOutputs(i);
            if (o.getName().startsWith("EPS_") || o.getName().equals("CLASS")) {
                dec.addInputs(input(o.getName(), o.getDatatype(), o.getShapeList().stream().mapToLong(Long::longValue).toArray()));
                dec.addRawInputContents(enc.getRawOutputContents(i));
            }
        }
        ModelInferResponse back = keyed().modelInfer(dec.build());
        assertThat(back.getOutputs(0).getName()).isEqualTo("IMAGES");
        assertThat(back.getRawOutputContents(0).toByteArray()).isEqualTo(pixels);
    }

    @Test
    void badInputIsAStatusNeverUnknownOrInternal() {
        byte[] one = images(1);
        assertCode(ModelInferRequest.newBuilder().setModelName("nope").addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.NOT_FOUND, "nope");
        assertCode(ModelInferRequest.newBuilder().setModelName("broken").addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.UNAVAILABLE, "broken");
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").addInputs(input("IMAGES", "FP16", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.INVALID_ARGUMENT, "FP16");
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").addInputs(input("IMAGES", "UINT8", 2, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.INVALID_ARGUMENT, "needs 1568");
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").addInputs(input("IMAGES", "UINT8", -1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.INVALID_ARGUMENT, "negative");
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny")
                .addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28).setContents(InferTensorContents.newBuilder().addUintContents(300)))
                .build(), Status.Code.INVALID_ARGUMENT, "values for a shape");
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").putParameters("priority", InferParameter.newBuilder()
                .setInt64Param(9).build()).addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.INVALID_ARGUMENT, "priority 9");
        // a timeout that has passed by the time the batch starts: dropped uncomputed, as the client's deadline would be
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").putParameters("timeout", InferParameter.newBuilder()
                .setInt64Param(0).build()).addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(one)).build(), Status.Code.DEADLINE_EXCEEDED, "not computed");

        // bytes that are no ModelInferRequest at all, and a message over the body limit (1 MB here)
        Status garbage = rawCall(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 0x00});
        assertThat(garbage.getCode()).as(garbage.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertCode(ModelInferRequest.newBuilder().setModelName("tiny").addInputs(input("IMAGES", "UINT8", 2000, 1, 28, 28))
                .addRawInputContents(ByteString.copyFrom(new byte[2000 * 784])).build(), Status.Code.RESOURCE_EXHAUSTED, "");
    }

    static void assertCode(ModelInferRequest request, Status.Code code, String detail) {
        assertThatThrownBy(() -> keyed().modelInfer(request)).isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).as(e.getMessage()).isEqualTo(code))
                .hasMessageContaining(detail);
    }

    /** ModelInfer called with {@code bytes} as its message, as a client with a broken encoder would. */
    static Status rawCall(byte[] bytes) {
        MethodDescriptor.Marshaller<byte[]> asIs = new MethodDescriptor.Marshaller<>() {
            public InputStream stream(byte[] value) {
                return new ByteArrayInputStream(value);
            }

            public byte[] parse(InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
        MethodDescriptor<byte[], byte[]> method = GRPCInferenceServiceGrpc.getModelInferMethod().toBuilder(asIs, asIs).build();
        ClientCall<byte[], byte[]> call = ClientInterceptors.intercept(network, MetadataUtils.newAttachHeadersInterceptor(bearer(KEY)))
                .newCall(method, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
        try {
            ClientCalls.blockingUnaryCall(call, bytes);
            return Status.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
    }

    @Test
    void inProcessClientsGetTheSameAnswersAndMetricsHaveBuckets() throws Exception {
        String name = InProcessServerBuilder.generateName();
        Server server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(GRPCInferenceServiceGrpc.bindService(new GrpcInferenceService(v2, repository))).build().start();
        ManagedChannel channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        try {
            var local = GRPCInferenceServiceGrpc.newBlockingStub(channel);
            ModelInferRequest score = ModelInferRequest.newBuilder().setModelName("tiny").addInputs(input("IMAGES", "UINT8", 1, 1, 28, 28))
                    .addRawInputContents(ByteString.copyFrom(images(1))).build();
            ModelInferResponse here = local.modelInfer(score);
            ModelInferResponse there = keyed().modelInfer(score);
            assertThat(here.getRawOutputContentsList()).isEqualTo(there.getRawOutputContentsList());
            assertThat(local.serverMetadata(ServerMetadataRequest.getDefaultInstance()).getName()).isEqualTo("glow-serve");
        } finally {
            channel.shutdownNow();
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        assertThat(grpc.port()).isEqualTo(GRPC_PORT);

        String metrics = management("/actuator/prometheus").text();
        assertThat(metrics).contains("grpc_server_requests_seconds_bucket{", "method=\"inference.GRPCInferenceService/ModelInfer\"",
                "glow_requests_seconds_bucket{", "glow_queue_wait_seconds_bucket{", "glow_model_forward_seconds_bucket{",
                "http_server_requests_seconds_bucket{", "le=\"0.025\"");
    }
}
