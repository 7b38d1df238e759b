package dev.glowserve.api;

import dev.glowserve.api.grpc.protocol.GRPCInferenceServiceGrpc;
import dev.glowserve.api.grpc.protocol.ModelInferRequest;
import dev.glowserve.api.grpc.protocol.ModelInferResponse;
import dev.glowserve.api.grpc.protocol.ModelMetadataRequest;
import dev.glowserve.api.grpc.protocol.ModelMetadataResponse;
import dev.glowserve.api.grpc.protocol.ModelReadyRequest;
import dev.glowserve.api.grpc.protocol.ModelReadyResponse;
import dev.glowserve.api.grpc.protocol.ModelRepositoryParameter;
import dev.glowserve.api.grpc.protocol.RepositoryIndexRequest;
import dev.glowserve.api.grpc.protocol.RepositoryIndexResponse;
import dev.glowserve.api.grpc.protocol.RepositoryModelLoadRequest;
import dev.glowserve.api.grpc.protocol.RepositoryModelLoadResponse;
import dev.glowserve.api.grpc.protocol.RepositoryModelUnloadRequest;
import dev.glowserve.api.grpc.protocol.RepositoryModelUnloadResponse;
import dev.glowserve.api.grpc.protocol.ServerLiveRequest;
import dev.glowserve.api.grpc.protocol.ServerLiveResponse;
import dev.glowserve.api.grpc.protocol.ServerMetadataRequest;
import dev.glowserve.api.grpc.protocol.ServerMetadataResponse;
import dev.glowserve.api.grpc.protocol.ServerReadyRequest;
import dev.glowserve.api.grpc.protocol.ServerReadyResponse;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.serving.RepositoryControl;
import dev.glowserve.serving.RequestWork;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The Open Inference Protocol's gRPC service on the controllers REST V2 uses, so both transports share models,
 * batching, limits, metrics and numbers: {@link V2Controller} for health, metadata and inference, {@link RepositoryControl}
 * for the repository. A client's deadline becomes its request's deadline; a call cancelled (or past its deadline)
 * has its queued work taken out uncomputed. A message that does not parse arrives here marked
 * ({@link GrpcServer#unparsable}) and is refused with INVALID_ARGUMENT.
 */
final class GrpcInferenceService implements GRPCInferenceServiceGrpc.AsyncService {

    private final V2Controller v2;
    private final RepositoryControl repository;

    GrpcInferenceService(V2Controller v2, RepositoryControl repository) {
        this.v2 = v2;
        this.repository = repository;
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
        answer(request, out, () -> ServerLiveResponse.newBuilder().setLive(v2.live().live()).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
        answer(request, out, () -> ServerReadyResponse.newBuilder().setReady(v2.ready().getBody().ready()).build());
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
        answer(request, out, () -> ModelReadyResponse.newBuilder()
                .setReady(v2.modelReady(model(request.getName()), version(request.getVersion())).getBody().ready()).build());
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
        answer(request, out, () -> {
            V2Controller.ServerMetadata m = v2.server();
            return ServerMetadataResponse.newBuilder().setName(m.name()).setVersion(m.version()).addAllExtensions(m.extensions()).build();
        });
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
        answer(request, out, () -> {
            V2Controller.ModelMetadata m = v2.metadata(model(request.getName()), version(request.getVersion()));
            ModelMetadataResponse.Builder b = ModelMetadataResponse.newBuilder().setName(m.name()).addAllVersions(m.versions())
                    .setPlatform(m.platform());
            m.inputs().forEach(t -> b.addInputs(tensor(t)));
            m.outputs().forEach(t -> b.addOutputs(tensor(t)));
            return b.build();
        });
    }

    private static ModelMetadataResponse.TensorMetadata tensor(V2Controller.TensorMetadata t) {
        ModelMetadataResponse.TensorMetadata.Builder b = ModelMetadataResponse.TensorMetadata.newBuilder().setName(t.name())
                .setDatatype(t.datatype());
        for (long d : t.shape()) {
            b.addShape(d);
        }
        return b.build();
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
        if (GrpcServer.unparsable(request)) {
            out.onError(GrpcErrors.of(ClientError.malformed("the message does not parse as a ModelInferRequest")));
            return;
        }
        RequestWork work = new RequestWork();
        Deadline deadline = Context.current().getDeadline();
        if (deadline != null) {
            work.timeout(deadline.timeRemaining(TimeUnit.NANOSECONDS));
        }
        // a call the client cancels, or whose deadline passes, ends its request: its queued work is taken out
        if (out instanceof ServerCallStreamObserver<ModelInferResponse> call) {
            call.setOnCancelHandler(work::cancel);
        }
        try {
            String model = model(request.getModelName());
            boolean raw = request.getRawInputContentsCount() > 0;
            v2.infer(model, version(request.getModelVersion()), () -> GrpcTensors.request(request), work,
                    (t, r, outputs, binary) -> GrpcTensors.response(model, t.version(), r.id(), outputs, raw))
                    .whenComplete((response, e) -> {
                        if (e != null) {
                            out.onError(GrpcErrors.of(e));
                        } else {
                            out.onNext(response);
                            out.onCompleted();
                        }
                    });
        } catch (RuntimeException e) {
            out.onError(GrpcErrors.of(e));
        }
    }

    @Override
    public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> out) {
        answer(request, out, () -> {
            RepositoryIndexResponse.Builder b = RepositoryIndexResponse.newBuilder();
            repository.index().stream().filter(e -> !request.getReady() || e.state().equals("READY"))
                    .forEach(e -> b.addModelsBuilder().setName(e.name()).setVersion(e.version() == null ? "" : e.version())
                            .setState(e.state()).setReason(e.reason() == null ? "" : e.reason()));
            return b.build();
        });
    }

    @Override
    public void repositoryModelLoad(RepositoryModelLoadRequest request, StreamObserver<RepositoryModelLoadResponse> out) {
        answer(request, out, () -> {
            String version = null;
            for (var p : request.getParametersMap().entrySet()) {
                if (!p.getKey().equals("version")) {
                    throw ClientError.malformed("parameter '" + p.getKey() + "' is not one this call takes (version)");
                }
                ModelRepositoryParameter v = p.getValue();
                version = switch (v.getParameterChoiceCase()) {
                    case STRING_PARAM -> v.getStringParam();
                    case INT64_PARAM -> Long.toString(v.getInt64Param());
                    default -> throw ClientError.malformed("parameters.version must be a version such as \"2\"");
                };
            }
            repository.load(model(request.getModelName()), version);
            return RepositoryModelLoadResponse.getDefaultInstance();
        });
    }

    @Override
    public void repositoryModelUnload(RepositoryModelUnloadRequest request, StreamObserver<RepositoryModelUnloadResponse> out) {
        answer(request, out, () -> {
            if (request.getParametersCount() > 0) {
                throw ClientError.malformed("unload takes no parameters");
            }
            repository.unload(model(request.getModelName()));
            return RepositoryModelUnloadResponse.getDefaultInstance();
        });
    }

    private static String model(String name) {
        if (name.isEmpty()) {
            throw ClientError.malformed("the model's name is empty");
        }
        return name;
    }

    /** The protocol's empty version is "whichever is served", as REST's absent one. */
    private static String version(String version) {
        return version.isEmpty() ? null : version;
    }

    /** A unary answer, or the error's status; a message that did not parse is INVALID_ARGUMENT. */
    private static <Q extends com.google.protobuf.Message, R> void answer(Q request, StreamObserver<R> out, Supplier<R> response) {
        if (GrpcServer.unparsable(request)) {
            out.onError(GrpcErrors.of(ClientError.malformed("the message does not parse as the protocol's request")));
            return;
        }
        R r;
        try {
            r = response.get();
        } catch (RuntimeException e) {
            out.onError(GrpcErrors.of(e));
            return;
        }
        out.onNext(r);
        out.onCompleted();
    }
}
