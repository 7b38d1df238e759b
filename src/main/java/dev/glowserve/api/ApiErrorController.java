package dev.glowserve.api;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Controller;
import org.springframework.web.bind.annotation.RequestMapping;

import java.io.IOException;

/**
 * The errors that reach the servlet container's error page instead of Spring's handlers (a body that did not arrive,
 * a malformed chunk, a method the container refuses): in the API's form, as every other error, instead of Spring
 * Boot's {@code {"timestamp", "status", "error", "path"}}. Nothing internal is said.
 */
@Controller
class ApiErrorController implements ErrorController {

    @RequestMapping("${server.error.path:/error}")
    void error(HttpServletRequest request, HttpServletResponse response) throws IOException {
        Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        int status = code instanceof Integer i && i >= 400 ? i : 500;
        HttpStatus known = HttpStatus.resolve(status);
        String title = known == null ? "Error" : known.getReasonPhrase();
        String detail = switch (status) {
            case 400 -> "the request is malformed (its framing, a header or the request line)";
            case 404 -> "no such path";
            case 405 -> "this method is not allowed here";
            case 408 -> "the request did not arrive in time";
            case 413 -> "the request is larger than the server accepts";
            case 431 -> "the request's headers are larger than the server accepts";
            default -> status >= 500 ? "internal error; the service logged it" : title;
        };
        String type = status >= 500 ? "internal" : status == 413 ? "payload-too-large" : status == 405 ? "method-not-allowed"
                : "malformed-request";
        if (!response.isCommitted()) {
            response.resetBuffer();
            ErrorBodies.write(request, response, status, type, title, detail);
        }
    }
}
