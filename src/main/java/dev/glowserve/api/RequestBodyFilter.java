package dev.glowserve.api;

import dev.glowserve.runtime.ClientError;
import dev.glowserve.serving.GlowProperties;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.Part;
import org.apache.catalina.core.ApplicationPart;
import org.apache.tomcat.util.http.fileupload.FileItem;
import org.apache.tomcat.util.http.fileupload.FileUpload;
import org.apache.tomcat.util.http.fileupload.FileUploadException;
import org.apache.tomcat.util.http.fileupload.disk.DiskFileItemFactory;
import org.apache.tomcat.util.http.fileupload.impl.FileCountLimitExceededException;
import org.apache.tomcat.util.http.fileupload.servlet.ServletRequestContext;
import org.springframework.boot.security.autoconfigure.web.servlet.SecurityFilterProperties;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Every request body is read whole, without a thread, before anything parses it: the servlet's non-blocking I/O
 * collects it while the client sends, within {@code glow.limits.max-request-size} (413 at once when Content-Length
 * says more, or as soon as a chunked body passes it) and {@code glow.limits.body-timeout} (408), then the request is
 * dispatched again with the body in memory. A client that sends one byte a second holds a socket, not one of the
 * threads that other requests need; memory follows the bytes that arrive, and all bodies still arriving together may
 * hold at most {@code glow.limits.max-receiving-bytes} (503 with Retry-After beyond). Runs after Spring Security, so
 * no body is read for a request it refuses.
 *
 * <p>Multipart bodies are parsed from that memory with Tomcat's own parser (the one {@code getParts()} uses), up to
 * two parts per image allowed plus a few; an Open Inference Protocol body is JSON, or JSON and binary tensors,
 * whatever its Content-Type says (Triton reads it so), so a form Content-Type ({@code curl -d}'s default) is hidden.
 *
 * <p>Over 300 lines because the non-blocking read, its three limits and the dispatch with the body in memory are one
 * state machine per request, kept in one place to be reviewed as the security boundary it is.
 */
@Component
@Order(SecurityFilterProperties.DEFAULT_FILTER_ORDER + 10)
public class RequestBodyFilter extends OncePerRequestFilter {

    private static final String BODY = RequestBodyFilter.class.getName() + ".body";

    private final long limit;
    private final Duration timeout;
    private final int maxParts;
    /** Bytes of bodies still arriving, all requests together, and the most there may be. */
    private final java.util.concurrent.atomic.AtomicLong receiving = new java.util.concurrent.atomic.AtomicLong();
    private final long maxReceiving;

    public RequestBodyFilter(GlowProperties properties) {
        this.limit = properties.limits().maxRequestSize().toBytes();
        this.timeout = properties.limits().bodyTimeout();
        this.maxParts = 2 * properties.limits().maxImages() + 8;
        this.maxReceiving = properties.limits().maxReceivingBytes().toBytes();
    }

    /** Bytes of request bodies being received now (for the tests: none once every request has its answer). */
    long receivingBytes() {
        return receiving.get();
    }

    @Override
    protected boolean shouldNotFilterAsyncDispatch() {
        return false; // the dispatch after the body arrived is where the body is handed on
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (request.getAttribute(BODY) instanceof byte[] body) {
            chain.doFilter(new Buffered(request, body, maxParts), response);
            return;
        }
        boolean hasBody = request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null;
        if (isAsyncDispatch(request) || !hasBody) {
            chain.doFilter(request, response);
            return;
        }
        if (request.getContentLengthLong() > limit) {
            tooLarge(request, response);
            return;
        }
        AsyncContext async = request.startAsync(request, response);
        async.setTimeout(timeout.toMillis());
        Collector collector = new Collector(request, response, async);
        async.addListener(collector);
        request.getInputStream().setReadListener(collector);
    }

    private void tooLarge(HttpServletRequest request, HttpServletResponse response) throws IOException {
        response.setHeader("Connection", "close");
        ErrorBodies.write(request, response, HttpStatus.CONTENT_TOO_LARGE.value(), "payload-too-large", "Content Too Large",
                "request body is larger than the limit of " + limit + " bytes (glow.limits.max-request-size)");
    }

    /** Collects one body as it arrives; ends the exchange with 413, 408, or a dispatch with the body. */
    private final class Collector implements ReadListener, AsyncListener {
        private final HttpServletRequest request;
        private final HttpServletResponse response;
        private final AsyncContext async;
        private final ByteArrayOutputStream body;
        private final byte[] buffer = new byte[16384];
        private final AtomicBoolean done = new AtomicBoolean();

        Collector(HttpServletRequest request, HttpServletResponse response, AsyncContext async) {
            this.request = request;
            this.response = response;
            this.async = async;
            // memory follows the bytes that arrive, never what a header declares
            long declared = request.getContentLengthLong();
            this.body = new ByteArrayOutputStream((int) Math.min(65536, declared > 0 ? declared : 8192));
        }

        @Override
        public void onDataAvailable() throws IOException {
            ServletInputStream in = request.getInputStream();
            while (!done.get() && in.isReady()) {
                int n;
                try {
                    n = in.read(buffer);
                } catch (IOException e) {
                    onError(e);
                    return;
                }
                if (n < 0) {
                    return; // onAllDataRead follows
                }
                if (body.size() + (long) n > limit) {
                    if (finish()) {
                        tooLarge(request, response);
                        async.complete();
                    }
                    return;
                }
                if (receiving.addAndGet(n) > maxReceiving) { // many large bodies arriving at once: this one waits for later
                    receiving.addAndGet(-n);
                    if (finish()) {
                        response.setHeader("Connection", "close");
                        response.setHeader("Retry-After", "1");
                        ErrorBodies.write(request, response, HttpStatus.SERVICE_UNAVAILABLE.value(), "busy-receiving",
                                "Service Unavailable", "the service is receiving " + maxReceiving
                                        + " bytes of request bodies already (glow.limits.max-receiving-bytes); retry shortly");
                        async.complete();
                    }
                    return;
                }
                body.write(buffer, 0, n);
            }
        }

        /** Ends the collection once, handing its bytes back to the budget; false when it had ended already. */
        private boolean finish() {
            if (!done.compareAndSet(false, true)) {
                return false;
            }
            receiving.addAndGet(-body.size());
            return true;
        }

        @Override
        public void onAllDataRead() {
            if (finish()) {
                request.setAttribute(BODY, body.toByteArray());
                async.dispatch();
            }
        }

        /** The body's framing broke (a bad chunk) or the client went away: a 400 for whoever is still there. */
        @Override
        public void onError(Throwable t) {
            if (finish()) {
                try {
                    if (!response.isCommitted()) {
                        response.setHeader("Connection", "close");
                        ErrorBodies.write(request, response, HttpStatus.BAD_REQUEST.value(), "malformed-request", "Bad Request",
                                "the request body could not be read (its chunked encoding or length is broken)");
                    }
                } catch (IOException | RuntimeException e) {
                    // nobody left to answer
                }
                async.complete();
            }
        }

        @Override
        public void onTimeout(AsyncEvent event) throws IOException {
            if (finish()) {
                response.setHeader("Connection", "close");
                ErrorBodies.write(request, response, HttpStatus.REQUEST_TIMEOUT.value(), "body-timeout", "Request Timeout",
                        "the request body did not arrive within " + timeout.toMillis() + " ms (glow.limits.body-timeout)");
                async.complete();
            }
        }

        @Override
        public void onComplete(AsyncEvent event) { }

        @Override
        public void onError(AsyncEvent event) {
            onError(event.getThrowable());
        }

        @Override
        public void onStartAsync(AsyncEvent event) { }
    }

    /** The request with its body in memory. */
    private static final class Buffered extends HttpServletRequestWrapper {
        private final byte[] body;
        private final int maxParts;
        private final boolean formType;
        private List<Part> parts;
        private Map<String, String[]> parameters;

        Buffered(HttpServletRequest request, byte[] body, int maxParts) {
            super(request);
            this.body = body;
            this.maxParts = maxParts;
            String type = request.getContentType();
            this.formType = type != null && type.toLowerCase(Locale.ROOT).startsWith(MediaType.APPLICATION_FORM_URLENCODED_VALUE);
        }

        @Override
        public ServletInputStream getInputStream() {
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new IllegalStateException("the body was read already; read it as a stream");
                }
            };
        }

        @Override
        public BufferedReader getReader() {
            String encoding = getCharacterEncoding();
            Charset charset = encoding == null ? StandardCharsets.UTF_8 : Charset.forName(encoding);
            return new BufferedReader(new InputStreamReader(getInputStream(), charset));
        }

        @Override
        public int getContentLength() {
            return body.length;
        }

        @Override
        public long getContentLengthLong() {
            return body.length;
        }

        @Override
        public String getContentType() {
            return formType ? null : super.getContentType();
        }

        @Override
        public String getHeader(String name) {
            return formType && "Content-Type".equalsIgnoreCase(name) ? null : super.getHeader(name);
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            return formType && "Content-Type".equalsIgnoreCase(name) ? Collections.emptyEnumeration() : super.getHeaders(name);
        }

        @Override
        public Collection<Part> getParts() throws IOException, ServletException {
            if (parts == null) {
                FileUpload upload = new FileUpload();
                upload.setFileItemFactory(new DiskFileItemFactory(Integer.MAX_VALUE, null)); // all in memory
                upload.setFileCountMax(maxParts);
                try {
                    List<Part> read = new ArrayList<>();
                    for (FileItem item : upload.parseRequest(new ServletRequestContext(this))) {
                        read.add(new ApplicationPart(item, null));
                    }
                    parts = read;
                } catch (FileCountLimitExceededException e) {
                    throw ClientError.tooLarge(
                            "a multipart upload takes at most " + maxParts + " parts (two per image allowed, glow.limits.max-images)");
                } catch (FileUploadException e) {
                    throw new ServletException("malformed multipart upload", e);
                }
            }
            return parts;
        }

        @Override
        public Part getPart(String name) throws IOException, ServletException {
            for (Part p : getParts()) {
                if (p.getName().equals(name)) {
                    return p;
                }
            }
            return null;
        }

        /** Text parts of a multipart form are parameters too, as the servlet container makes them; read once. */
        @Override
        public Map<String, String[]> getParameterMap() {
            if (parameters == null) {
                Map<String, String[]> all = new LinkedHashMap<>(super.getParameterMap());
                for (Part p : textParts()) {
                    String[] old = all.get(p.getName());
                    String value = text(p);
                    String[] next = old == null ? new String[] {value} : java.util.Arrays.copyOf(old, old.length + 1);
                    next[next.length - 1] = value;
                    all.put(p.getName(), next);
                }
                parameters = Collections.unmodifiableMap(all);
            }
            return parameters;
        }

        @Override
        public String getParameter(String name) {
            String[] values = getParameterMap().get(name);
            return values == null || values.length == 0 ? null : values[0];
        }

        @Override
        public String[] getParameterValues(String name) {
            return getParameterMap().get(name);
        }

        @Override
        public Enumeration<String> getParameterNames() {
            return Collections.enumeration(getParameterMap().keySet());
        }

        private List<Part> textParts() {
            String type = getContentType();
            if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("multipart/")) {
                return List.of();
            }
            try {
                return getParts().stream().filter(p -> p.getSubmittedFileName() == null).toList();
            } catch (IOException | ServletException | RuntimeException e) {
                return List.of(); // the parts themselves report the problem
            }
        }

        private static String text(Part p) {
            try (var in = p.getInputStream()) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }
    }
}
