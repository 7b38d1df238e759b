package dev.glowserve.api;

import dev.glowserve.api.grpc.protocol.GRPCInferenceServiceGrpc;
import dev.glowserve.serving.GlowProperties;
import dev.glowserve.serving.RepositoryControl;
import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.AuthenticationException;
import org.springframework.stereotype.Component;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The Open Inference Protocol over gRPC on {@code glow.grpc.port} (0: off), beside REST: the inference service,
 * {@code grpc.health.v1} health (per service and per model) and server reflection. The API key, when one is set, is
 * asked for as REST asks for it, in {@code authorization: Bearer} or {@code x-api-key} metadata; liveness, readiness
 * and health stay open, as REST's probes do. A message is at most {@code glow.limits.max-request-size}. On stop
 * (SIGTERM) the server takes no new calls and lets those in flight finish within {@code glow.grpc.shutdown-grace},
 * before the models drain.
 */
@Component
public class GrpcServer implements SmartLifecycle {

    private static final Logger LOG = LoggerFactory.getLogger(GrpcServer.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
    /** Open without a key: the probes a load balancer or kubelet asks. */
    private static final Set<String> OPEN = Set.of(GRPCInferenceServiceGrpc.getServerLiveMethod().getFullMethodName(),
            GRPCInferenceServiceGrpc.getServerReadyMethod().getFullMethodName(), HealthGrpc.getCheckMethod().getFullMethodName(),
            HealthGrpc.getWatchMethod().getFullMethodName());

    private final GrpcProperties properties;
    private final GrpcInferenceService inference;
    private final V2Controller v2;
    private final SecurityConfig.ApiKeyAuthentication apiKey;
    private final MeterRegistry meters;
    private final int maxMessageBytes;
    private volatile Server server;

    public GrpcServer(GrpcProperties properties, GlowProperties glow, V2Controller v2, RepositoryControl repository,
            SecurityConfig.ApiKeyAuthentication apiKey, MeterRegistry meters) {
        this.properties = properties;
        this.inference = new GrpcInferenceService(v2, repository);
        this.v2 = v2;
        this.apiKey = apiKey;
        this.meters = meters;
        this.maxMessageBytes = (int) Math.min(Integer.MAX_VALUE, glow.limits().maxRequestSize().toBytes());
    }

    @Override
    public synchronized void start() {
        if (properties.port() == 0 || server != null) {
            return;
        }
        try {
            server = NettyServerBuilder.forAddress(new InetSocketAddress(properties.port()))
                    .maxInboundMessageSize(maxMessageBytes)
                    .maxInboundMetadataSize(16 * 1024)
                    .addService(ServerInterceptors.intercept(lenient(GRPCInferenceServiceGrpc.bindService(inference)),
                            this::authorize, this::measure))
                    .addService(ServerInterceptors.intercept(lenient(new Health(v2).bindService()), this::measure))
                    .addService(ServerInterceptors.intercept(ProtoReflectionServiceV1.newInstance(), this::authorize))
                    .build().start();
        } catch (IOException e) {
            throw new UncheckedIOException("glow.grpc.port " + properties.port() + " cannot be bound", e);
        }
        LOG.info("gRPC (Open Inference Protocol) on port {}, API key {}", server.getPort(), apiKey.enabled() ? "required" : "off");
    }

    /** The port gRPC listens on, or -1 when it is off. */
    public int port() {
        Server s = server;
        return s == null ? -1 : s.getPort();
    }

    @Override
    public synchronized void stop() {
        Server s = server;
        if (s == null) {
            return;
        }
        s.shutdown();
        try {
            if (!s.awaitTermination(properties.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                s.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            s.shutdownNow();
        }
        server = null;
        LOG.info("gRPC stopped");
    }

    @Override
    public boolean isRunning() {
        return server != null;
    }

    /** With the web server's graceful shutdown: calls in flight finish before the models drain. */
    @Override
    public int getPhase() {
        return WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE;
    }

    private <Q, R> ServerCall.Listener<Q> authorize(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!apiKey.enabled() || OPEN.contains(call.getMethodDescriptor().getFullMethodName())) {
            return next.startCall(call, headers);
        }
        String key = headers.get(API_KEY);
        String authorization = headers.get(AUTHORIZATION);
        if (key == null && authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            key = authorization.substring(7).strip();
        }
        try {
            if (key != null) {
                apiKey.authenticate(UsernamePasswordAuthenticationToken.unauthenticated("api-key", key));
                return next.startCall(call, headers);
            }
        } catch (AuthenticationException e) {
            // refused below, as a missing key is
        }
        call.close(Status.UNAUTHENTICATED.withDescription("an API key is required: send it as authorization: Bearer or x-api-key "
                + "metadata"), new Metadata());
        return new ServerCall.Listener<>() {};
    }

    /** {@code grpc.server.requests}: latency per method and status code, with the service's histogram buckets. */
    private <Q, R> ServerCall.Listener<Q> measure(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        long start = System.nanoTime();
        String method = call.getMethodDescriptor().getFullMethodName();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                Timer.builder("grpc.server.requests").tag("method", method).tag("status", status.getCode().name())
                        .description("Latency of gRPC calls, from their start to their status").register(meters)
                        .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
                super.close(status, trailers);
            }
        }, headers);
    }

    /**
     * The service with each request parsed leniently: bytes that are not the protocol's message arrive as the empty
     * message marked {@link #unparsable} and are refused with INVALID_ARGUMENT, where gRPC would answer a client's
     * bytes with UNKNOWN.
     */
    static ServerServiceDefinition lenient(ServerServiceDefinition service) {
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        java.util.List<ServerMethodDefinition<?, ?>> methods = new java.util.ArrayList<>();
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            ServerMethodDefinition<?, ?> lenient = lenient(m);
            descriptor.addMethod(lenient.getMethodDescriptor());
            methods.add(lenient);
        }
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(b::addMethod);
        return b.build();
    }

    /** The highest field number protobuf allows: no message of the protocol uses it. */
    private static final int UNPARSABLE_MARK = 536_870_911;

    /** Whether {@code message} stands for bytes that did not parse (see {@link #lenient}). */
    static boolean unparsable(Message message) {
        return message == null || message.getUnknownFields().hasField(UNPARSABLE_MARK);
    }

    @SuppressWarnings("unchecked")
    private static <Q, R> ServerMethodDefinition<Q, R> lenient(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor.Marshaller<Q> strict = m.getMethodDescriptor().getRequestMarshaller();
        if (!(strict instanceof MethodDescriptor.PrototypeMarshaller<Q> typed) || !(typed.getMessagePrototype() instanceof Message prototype)) {
            return m;
        }
        Q marked = (Q) prototype.toBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(UNPARSABLE_MARK, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
        MethodDescriptor.Marshaller<Q> lenient = new MethodDescriptor.PrototypeMarshaller<>() {
            @Override
            public InputStream stream(Q value) {
                return strict.stream(value);
            }

            @Override
            public Q parse(InputStream stream) {
                try {
                    return strict.parse(stream);
                } catch (RuntimeException e) {
                    return marked;
                }
            }

            @Override
            public Q getMessagePrototype() {
                return typed.getMessagePrototype();
            }

            @Override
            public Class<Q> getMessageClass() {
                return typed.getMessageClass();
            }
        };
        MethodDescriptor<Q, R> descriptor = m.getMethodDescriptor().toBuilder(lenient, m.getMethodDescriptor().getResponseMarshaller()).build();
        return ServerMethodDefinition.create(descriptor, m.getServerCallHandler());
    }

    /**
     * {@code grpc.health.v1}: SERVING when the server (service "" or the inference service's name) or the model named
     * is ready for inference, NOT_SERVING while it is not, NOT_FOUND for a name that is neither.
     */
    static final class Health extends HealthGrpc.HealthImplBase {
        private final V2Controller v2;

        Health(V2Controller v2) {
            this.v2 = v2;
        }

        @Override
        public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> out) {
            if (unparsable(request)) {
                out.onError(Status.INVALID_ARGUMENT.withDescription("not a HealthCheckRequest").asRuntimeException());
                return;
            }
            String service = request.getService();
            boolean ready;
            try {
                ready = service.isEmpty() || service.equals(GRPCInferenceServiceGrpc.SERVICE_NAME) ? v2.ready().getBody().ready()
                        : v2.modelReady(service, null).getBody().ready();
            } catch (RuntimeException e) {
                out.onError(GrpcErrors.of(e));
                return;
            }
            out.onNext(HealthCheckResponse.newBuilder().setStatus(ready ? HealthCheckResponse.ServingStatus.SERVING
                    : HealthCheckResponse.ServingStatus.NOT_SERVING).build());
            out.onCompleted();
        }
    }
}
