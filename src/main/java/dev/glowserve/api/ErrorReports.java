package dev.glowserve.api;

import org.apache.catalina.Container;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.stereotype.Component;

import java.io.IOException;

/**
 * The errors Tomcat answers itself, before any application code runs (an encoded slash in the path, bad
 * %-encoding, oversized headers, ...): in the API's form, problem+json or, under {@code /v2}, {@code {"error"}},
 * instead of Tomcat's HTML page.
 */
@Component
class ErrorReports implements WebServerFactoryCustomizer<TomcatServletWebServerFactory> {

    @Override
    public void customize(TomcatServletWebServerFactory factory) {
        factory.addContextCustomizers(context -> {
            Container host = context.getParent();
            if (host instanceof StandardHost h) {
                h.setErrorReportValveClass(JsonErrorReportValve.class.getName());
            }
        });
    }

    /** Tomcat's host-level error page, as JSON. */
    public static final class JsonErrorReportValve extends ErrorReportValve {

        @Override
        protected void report(Request request, Response response, Throwable throwable) {
            int status = response.getStatus();
            if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
                return;
            }
            org.springframework.http.HttpStatus known = org.springframework.http.HttpStatus.resolve(status);
            String reason = known == null ? null : known.getReasonPhrase();
            String detail = switch (status) {
                case 400 -> "the request is malformed (a path with an encoded slash or invalid %-encoding, a bad header, "
                        + "or a request line the server cannot read)";
                case 413 -> "the request is larger than the server accepts";
                case 431 -> "the request's headers are larger than the server accepts";
                default -> "the server could not process the request: " + (reason == null ? "HTTP " + status : reason);
            };
            try {
                response.setSuspended(false);
                response.resetBuffer();
                ErrorBodies.write(request, response, status, "malformed-request", reason == null ? "Error" : reason, detail);
            } catch (IOException | IllegalStateException e) {
                // the client went away, or the response was already on the wire: nothing more to say
            }
        }
    }
}
