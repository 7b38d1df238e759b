package dev.glowserve.api;

import dev.glowserve.data.DataException;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.runtime.ModelRunner;
import dev.glowserve.serving.LatentService;
import dev.glowserve.serving.ModelRegistry;
import dev.glowserve.serving.Overload;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.context.request.async.AsyncRequestTimeoutException;
import org.springframework.web.multipart.MultipartException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

import java.net.URI;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Every error with a detail a person can act on: RFC 9457 {@code application/problem+json} under {@code /v1}, the
 * Open Inference Protocol's {@code {"error": "..."}} under {@code /v2} (where every bad input is a 400).
 * Framework errors (404, 405, 406, 415, ...) come through {@link ResponseEntityExceptionHandler};
 * nothing internal (class names, paths, stack traces) reaches a response.
 */
@RestControllerAdvice
public class ProblemHandler extends ResponseEntityExceptionHandler {

    static final String TYPE_PREFIX = "urn:glow-serve:problem:";

    static ProblemDetail problem(HttpStatusCode status, String type, String detail) {
        ProblemDetail p = ProblemDetail.forStatusAndDetail(status, detail);
        p.setType(URI.create(TYPE_PREFIX + type));
        return p;
    }

    private static ResponseEntity<Object> respond(ProblemDetail p) {
        return respond(p, new HttpHeaders());
    }

    private static ResponseEntity<Object> respond(ProblemDetail p, HttpHeaders headers) {
        if (isV2Request()) {
            int status = p.getStatus() == HttpStatus.UNPROCESSABLE_CONTENT.value() ? HttpStatus.BAD_REQUEST.value() : p.getStatus();
            return ResponseEntity.status(status).headers(headers).contentType(MediaType.APPLICATION_JSON)
                    .body(java.util.Map.of("error", p.getDetail() == null ? HttpStatus.valueOf(status).getReasonPhrase() : p.getDetail()));
        }
        return ResponseEntity.status(p.getStatus()).headers(headers).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(p);
    }

    private static boolean isV2Request() {
        return org.springframework.web.context.request.RequestContextHolder.getRequestAttributes()
                instanceof org.springframework.web.context.request.ServletRequestAttributes a && ErrorBodies.isV2(a.getRequest());
    }

    /** Framework errors (unknown path, wrong method or media type) in the API's own form too. */
    @Override
    protected ResponseEntity<Object> createResponseEntity(Object body, HttpHeaders headers, HttpStatusCode statusCode,
            WebRequest request) {
        if (body instanceof ProblemDetail p) {
            return respond(p, headers);
        }
        return super.createResponseEntity(body, headers, statusCode, request);
    }

    /** The service's own exceptions, through the one table all protocols share ({@link ServiceError}). */
    @ExceptionHandler({ClientError.class, DataException.class, ModelRegistry.UnknownModel.class, LatentService.NotCalibrated.class,
            LatentService.OutOfDistributionRejected.class,
            ModelRegistry.ModelUnavailable.class, Overload.QueueFull.class, Overload.DeadlineExceeded.class,
            Overload.ShuttingDown.class, ModelRunner.NonFiniteOutputException.class, CancellationException.class,
            IllegalArgumentException.class, CompletionException.class, ExecutionException.class})
    ResponseEntity<Object> service(Exception e) {
        return respond(ServiceError.of(e));
    }

    private static ResponseEntity<Object> respond(ServiceError e) {
        ProblemDetail p = problem(HttpStatus.valueOf(e.status()), e.type(), e.detail());
        if (e.field() != null) {
            p.setProperty("field", e.field());
        }
        HttpHeaders headers = new HttpHeaders();
        if (e.retryAfterSeconds() != null) {
            headers.set(HttpHeaders.RETRY_AFTER, Long.toString(e.retryAfterSeconds()));
        }
        return respond(p, headers);
    }

    private static ResponseEntity<Object> timeout() {
        return respond(new ServiceError(503, "timeout", "the request took longer than the service's limit "
                + "(spring.mvc.async.request-timeout); its queued work was dropped", null, null));
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        String detail = "request body is not valid JSON for this endpoint";
        Throwable root = ex.getMostSpecificCause();
        if (root instanceof tools.jackson.databind.exc.UnrecognizedPropertyException u) {
            detail = "field '" + field(u) + "' is not a field of this request" + known(u.getKnownPropertyIds());
        } else if (root instanceof tools.jackson.core.JacksonException j && j.getOriginalMessage() != null) {
            // a value of the wrong type or out of range names its field; broken JSON is not valid JSON wherever it breaks
            boolean valueProblem = j instanceof tools.jackson.databind.DatabindException
                    || j instanceof tools.jackson.core.exc.InputCoercionException;
            String field = valueProblem ? field(j) : "";
            detail = field.isEmpty() ? detail + ": " + firstLine(j.getOriginalMessage())
                    : "field '" + field + "': " + fieldProblem(j);
        }
        return respond(problem(HttpStatus.BAD_REQUEST, "malformed-request", detail));
    }

    private static String known(java.util.Collection<Object> names) {
        if (names == null || names.isEmpty()) {
            return "";
        }
        return " (fields: " + names.stream().map(String::valueOf).sorted().collect(java.util.stream.Collectors.joining(", ")) + ")";
    }

    /** The JSON field a mapping error is at, as the client wrote it: items[0].class. */
    private static String field(tools.jackson.core.JacksonException j) {
        return dev.glowserve.artifact.ModelArtifact.jsonPath(j);
    }

    private static String fieldProblem(tools.jackson.core.JacksonException j) {
        if (j instanceof tools.jackson.core.exc.InputCoercionException c) {
            return "the number is out of range for " + jsonKind(c.getTargetType());
        }
        if (j instanceof tools.jackson.databind.exc.InvalidFormatException f && f.getTargetType() != null
                && (f.getTargetType() == Integer.class || f.getTargetType() == int.class
                    || f.getTargetType() == Long.class || f.getTargetType() == long.class)) {
            return f.getValue() + " is not an integer";
        }
        if (j instanceof tools.jackson.databind.exc.MismatchedInputException m && m.getTargetType() != null) {
            return "must be " + jsonKind(m.getTargetType());
        }
        return firstLine(j.getOriginalMessage());
    }

    /** What a Java target type is in JSON's words, so that no Java type reaches the client. */
    private static String jsonKind(Class<?> t) {
        if (t == null) {
            return "this field";
        }
        if (t == Integer.class || t == int.class || t == Long.class || t == long.class) {
            return "an integer";
        }
        if (Number.class.isAssignableFrom(t) || t == double.class || t == float.class) {
            return "a number";
        }
        if (t == Boolean.class || t == boolean.class) {
            return "true or false";
        }
        if (t == String.class) {
            return "a string";
        }
        if (t.isArray() || java.util.Collection.class.isAssignableFrom(t)) {
            return "an array";
        }
        return "an object";
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        // Jackson names Java types in some messages; keep what the client sent, not our class names
        return line.replaceAll("`[a-zA-Z_$.]+\\.([A-Za-z_$]+)`", "`$1`").replaceAll("\\(class [^)]*\\)", "")
                .replaceAll("\\s*\\(start marker at \\[Source:.*?\\]\\)", "").replaceAll("\\s*\\(bound as `[^`]*`\\)", "")
                .replaceAll(":? not allowed as per `[A-Z_]+`", "");
    }

    @ExceptionHandler(MultipartException.class)
    ResponseEntity<Object> multipart(MultipartException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ClientError c) {
                return respond(ServiceError.of(c));
            }
            if (t.getClass().getSimpleName().contains("SizeLimitExceeded")
                    || t.getClass().getSimpleName().contains("SizeException")) {
                return respond(problem(HttpStatus.CONTENT_TOO_LARGE, "payload-too-large", "upload is larger than the limit"));
            }
        }
        return respond(problem(HttpStatus.BAD_REQUEST, "malformed-request", "malformed multipart upload"));
    }

    @Override
    protected ResponseEntity<Object> handleAsyncRequestTimeoutException(AsyncRequestTimeoutException ex, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        return timeout();
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<Object> internal(Exception e) {
        return respond(ServiceError.of(e));
    }
}
