package dev.glowserve.cli;

import com.google.protobuf.ByteString;
import dev.glowserve.api.grpc.protocol.GRPCInferenceServiceGrpc;
import dev.glowserve.api.grpc.protocol.ModelInferRequest;
import dev.glowserve.data.Png;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

/**
 * The load command's gRPC client: the Open Inference Protocol's ModelInfer with raw tensors, as a client of the
 * protocol's messages only, over one HTTP/2 channel that the load's clients share (as gRPC clients do). A status is
 * counted as the HTTP status REST would have answered, so that the two transports' tables read alike.
 */
final class GrpcLoad implements LoadCommand.Requests, AutoCloseable {

    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel channel;
    private final GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;
    private final java.util.function.LongFunction<ModelInferRequest> request;

    private GrpcLoad(ManagedChannel channel, String apiKey, java.util.function.LongFunction<ModelInferRequest> request) {
        this.channel = channel;
        GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub s = GRPCInferenceServiceGrpc.newBlockingStub(channel);
        if (apiKey != null) {
            Metadata m = new Metadata();
            m.put(AUTHORIZATION, "Bearer " + apiKey);
            s = s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
        }
        this.stub = s;
        this.request = request;
    }

    /** grpc-sample (one image at temperature 0.7, a fresh seed each) or grpc-log-likelihood of {@code image}. */
    static GrpcLoad requests(String op, String host, int port, String model, String apiKey, Png.Image image) {
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().maxInboundMessageSize(64 << 20).build();
        return new GrpcLoad(channel, apiKey, switch (op) {
            case "grpc-sample" -> n -> ModelInferRequest.newBuilder().setModelName(model + "-sample")
                    .addInputs(input("TEMPERATURE", "FP32", 1)).addInputs(input("SEED", "INT64", 1))
                    .addRawInputContents(ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.7f).array()))
                    .addRawInputContents(ByteString.copyFrom(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array()))
                    .build();
            case "grpc-log-likelihood" -> {
                ModelInferRequest score = ModelInferRequest.newBuilder().setModelName(model)
                        .addInputs(input("IMAGES", "UINT8", 1, image.channels(), image.height(), image.width()))
                        .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("BITS_PER_DIM"))
                        .addRawInputContents(ByteString.copyFrom(image.pixels())).build();
                yield n -> score;
            }
            default -> throw new IllegalArgumentException("not a gRPC op: " + op);
        });
    }

    private static ModelInferRequest.InferInputTensor input(String name, String datatype, long... shape) {
        ModelInferRequest.InferInputTensor.Builder t = ModelInferRequest.InferInputTensor.newBuilder().setName(name).setDatatype(datatype);
        for (long d : shape) {
            t.addShape(d);
        }
        return t.build();
    }

    @Override
    public LoadCommand.Outcome send(long n) {
        try {
            stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(request.apply(n));
            return new LoadCommand.Outcome(200, null, 0);
        } catch (StatusRuntimeException e) {
            String retry = e.getTrailers() == null ? null : e.getTrailers().get(Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER));
            return new LoadCommand.Outcome(http(e.getStatus().getCode()), e.getStatus().toString(), retry == null ? 1 : Long.parseLong(retry));
        }
    }

    /** The HTTP status REST answers where gRPC answers {@code code}. */
    private static int http(Status.Code code) {
        return switch (code) {
            case INVALID_ARGUMENT -> 400;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case NOT_FOUND -> 404;
            case FAILED_PRECONDITION -> 409;
            case RESOURCE_EXHAUSTED -> 429;
            case UNAVAILABLE -> 503;
            case DEADLINE_EXCEEDED -> 504;
            default -> 500;
        };
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
