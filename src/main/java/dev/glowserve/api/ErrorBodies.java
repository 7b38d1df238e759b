package dev.glowserve.api;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The error body each API speaks, for errors written outside Spring's handlers (filters, the web server itself):
 * RFC 9457 problem+json under {@code /v1} (and everywhere else), the Open Inference Protocol's
 * {@code {"error": "..."}} under {@code /v2}.
 */
final class ErrorBodies {

    private ErrorBodies() {}

    /** Whether a request path is the Open Inference Protocol's (raw, as it came: it may not even decode). */
    static boolean isV2(String uri) {
        return uri != null && (uri.equals("/v2") || uri.startsWith("/v2/"));
    }

    static void write(HttpServletRequest request, HttpServletResponse response, int status, String type, String title,
            String detail) throws IOException {
        response.setStatus(status);
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        String uri = request.getRequestURI();
        if (isV2(uri)) {
            response.setContentType("application/json");
            body.put("error", detail);
        } else {
            response.setContentType("application/problem+json");
            body.put("type", ProblemHandler.TYPE_PREFIX + type);
            body.put("title", title);
            body.put("status", status);
            body.put("detail", detail);
            if (uri != null) {
                body.put("instance", uri);
            }
        }
        response.setCharacterEncoding("UTF-8");
        response.getOutputStream().write(body.toString().getBytes(StandardCharsets.UTF_8));
    }
}
