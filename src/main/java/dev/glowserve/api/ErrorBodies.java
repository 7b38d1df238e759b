package dev.glowserve.api;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.util.UrlPathHelper;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The error body each API speaks, for errors written outside Spring's handlers (the firewall, authentication,
 * filters, the web server itself): RFC 9457 problem+json under {@code /v1} (and everywhere else), the Open Inference
 * Protocol's {@code {"error": "..."}} under {@code /v2}. Which API a request is for is decided on the path the router
 * uses, never on the raw request line, so {@code /%762/...} answers as {@code /v2/...} does.
 */
final class ErrorBodies {

    private ErrorBodies() {}

    /**
     * The path the router matches: %-decoded, {@code ;}-parameters removed, repeated slashes merged; for an error
     * dispatch, the path of the request that failed. The raw path when it does not decode (the firewall refuses it).
     */
    static String routedPath(HttpServletRequest request) {
        Object failed = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
        String raw = failed instanceof String s ? s : request.getRequestURI();
        if (raw == null) {
            return "";
        }
        try {
            String decoded = UrlPathHelper.defaultInstance.removeSemicolonContent(raw);
            decoded = UrlPathHelper.defaultInstance.decodeRequestString(request, decoded);
            return decoded.replaceAll("/{2,}", "/");
        } catch (RuntimeException e) {
            return raw;
        }
    }

    /** Whether a request is for the Open Inference Protocol. */
    static boolean isV2(HttpServletRequest request) {
        return isV2(routedPath(request));
    }

    /** Whether a routed path is the Open Inference Protocol's. */
    static boolean isV2(String path) {
        return path != null && (path.equals("/v2") || path.startsWith("/v2/"));
    }

    static void write(HttpServletRequest request, HttpServletResponse response, int status, String type, String title,
            String detail) throws IOException {
        response.setStatus(status);
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        String path = routedPath(request);
        if (isV2(path)) {
            response.setContentType("application/json");
            body.put("error", detail);
        } else {
            response.setContentType("application/problem+json");
            body.put("type", ProblemHandler.TYPE_PREFIX + type);
            body.put("title", title);
            body.put("status", status);
            body.put("detail", detail);
            if (!path.isEmpty() && path.startsWith("/") && path.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                body.put("instance", path);
            }
        }
        response.setCharacterEncoding("UTF-8");
        response.getOutputStream().write(body.toString().getBytes(StandardCharsets.UTF_8));
    }
}
