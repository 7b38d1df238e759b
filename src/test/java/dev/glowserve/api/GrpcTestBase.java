package dev.glowserve.api;

import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import java.net.ServerSocket;

/**
 * The application of {@link ApiTestBase} with gRPC on a free port and an API key, which every call (REST and gRPC)
 * presents: the gRPC tests share this one running application.
 */
abstract class GrpcTestBase extends ApiTestBase {

    static final String KEY = "grpc-test-key";
    static final int GRPC_PORT = freePort();

    @DynamicPropertySource
    static void grpc(DynamicPropertyRegistry r) {
        r.add("glow.grpc.port", () -> GRPC_PORT);
        r.add("glow.security.api-key", () -> KEY);
    }

    @Override
    String apiKey() {
        return KEY;
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
