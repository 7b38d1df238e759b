package dev.glowserve.api;

import dev.glowserve.serving.RequestWork;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.server.ServerHttpResponse;
import org.springframework.http.server.ServletServerHttpResponse;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.RequestAttributes;
import org.springframework.web.context.request.RequestContextHolder;
import org.springframework.web.context.request.ServletRequestAttributes;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.cors.DefaultCorsProcessor;
import org.springframework.web.servlet.config.annotation.AsyncSupportConfigurer;
import org.springframework.web.servlet.config.annotation.CorsRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;
import org.springframework.web.servlet.handler.AbstractHandlerMapping;


/**
 * CORS for {@code /v1/**} and {@code /v2/**} (closed unless {@code glow.security.cors-allowed-origins} lists origins,
 * a refusal answered in the API's form), and dropping queued model work for requests that timed out or whose client
 * went away.
 */
@Configuration
public class WebConfig implements WebMvcConfigurer {

    private final SecurityProperties security;

    public WebConfig(SecurityProperties security) {
        this.security = security;
    }

    private static final String WORK = WebConfig.class.getName() + ".work";

    /** The current request's model work, dropped as a whole if the request ends first (see {@link RequestWork}). */
    static RequestWork work() {
        RequestAttributes attributes = RequestContextHolder.getRequestAttributes();
        if (attributes == null) {
            return RequestWork.detached();
        }
        RequestWork work = (RequestWork) attributes.getAttribute(WORK, RequestAttributes.SCOPE_REQUEST);
        if (work == null) {
            work = new RequestWork();
            if (attributes instanceof ServletRequestAttributes servlet) {
                schedule(work, servlet.getRequest());
            }
            attributes.setAttribute(WORK, work, RequestAttributes.SCOPE_REQUEST);
        }
        return work;
    }

    /** How a request asks to be scheduled over HTTP: its priority level, and its own timeout in milliseconds. */
    static final String PRIORITY_HEADER = "X-Request-Priority";
    static final String TIMEOUT_HEADER = "X-Request-Timeout-Ms";

    private static void schedule(RequestWork work, jakarta.servlet.http.HttpServletRequest request) {
        String priority = request.getHeader(PRIORITY_HEADER);
        if (priority != null) {
            work.priority((int) headerNumber(PRIORITY_HEADER, priority, 16));
        }
        String timeout = request.getHeader(TIMEOUT_HEADER);
        if (timeout != null) {
            work.timeout(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(headerNumber(TIMEOUT_HEADER, timeout, 86_400_000L)));
        }
    }

    private static long headerNumber(String header, String value, long max) {
        try {
            long v = Long.parseLong(value.trim());
            if (v >= 0 && v <= max) {
                return v;
            }
        } catch (NumberFormatException e) {
            // refused below, naming the header
        }
        throw dev.glowserve.runtime.ClientError.malformed(header + " must be an integer from 0 to " + max);
    }

    private static void cancelWork(NativeWebRequest request) {
        if (request.getAttribute(WORK, RequestAttributes.SCOPE_REQUEST) instanceof RequestWork work) {
            work.cancel(); // the scheduler skips cancelled work
        }
    }

    @Override
    public void configureAsyncSupport(AsyncSupportConfigurer configurer) {
        configurer.registerDeferredResultInterceptors(new DeferredResultProcessingInterceptor() {
            @Override
            public <T> boolean handleTimeout(NativeWebRequest request, DeferredResult<T> result) {
                cancelWork(request);
                return true;
            }

            @Override
            public <T> boolean handleError(NativeWebRequest request, DeferredResult<T> result, Throwable t) {
                cancelWork(request);
                return true;
            }
        });
    }

    /** Every handler mapping refuses a cross-origin request with a 403 in the API's form, not a plain-text line. */
    @Bean
    static BeanPostProcessor corsRefusalInApiForm() {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessBeforeInitialization(Object bean, String name) {
                if (bean instanceof AbstractHandlerMapping mapping) {
                    mapping.setCorsProcessor(new DefaultCorsProcessor() {
                        @Override
                        protected void rejectRequest(ServerHttpResponse response) throws java.io.IOException {
                            if (response instanceof ServletServerHttpResponse servlet
                                    && RequestContextHolder.getRequestAttributes() instanceof ServletRequestAttributes a) {
                                ErrorBodies.write(a.getRequest(), servlet.getServletResponse(), 403, "cors-refused", "Forbidden",
                                        "this origin is not allowed (glow.security.cors-allowed-origins)");
                                response.flush();
                            } else {
                                super.rejectRequest(response);
                            }
                        }
                    });
                }
                return bean;
            }
        };
    }

    @Override
    public void addCorsMappings(CorsRegistry registry) {
        if (security.corsAllowedOrigins().isEmpty()) {
            return;
        }
        String[] origins = security.corsAllowedOrigins().toArray(new String[0]);
        registry.addMapping("/v1/**")
                .allowedOrigins(origins)
                .allowedMethods("GET", "POST")
                .allowedHeaders("Content-Type", "Accept", "X-API-Key", "Authorization", PRIORITY_HEADER, TIMEOUT_HEADER)
                .exposedHeaders("X-Seed", "Retry-After")
                .maxAge(3600);
        registry.addMapping("/v2/**")
                .allowedOrigins(origins)
                .allowedMethods("GET", "POST")
                .allowedHeaders("Content-Type", "Accept", "X-API-Key", "Authorization", V2Tensors.HEADER_LENGTH, PRIORITY_HEADER,
                        TIMEOUT_HEADER)
                .exposedHeaders("Retry-After", V2Tensors.HEADER_LENGTH)
                .maxAge(3600);
    }
}
