package dev.glowserve.api;

import org.springframework.context.annotation.Configuration;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.RequestAttributes;
import org.springframework.web.context.request.RequestContextHolder;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.context.request.async.DeferredResultProcessingInterceptor;
import org.springframework.web.servlet.config.annotation.AsyncSupportConfigurer;
import org.springframework.web.servlet.config.annotation.CorsRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * CORS for {@code /v1/**} (closed unless {@code glow.security.cors-allowed-origins} lists origins),
 * and dropping queued model work for requests that timed out or whose client went away.
 */
@Configuration
public class WebConfig implements WebMvcConfigurer {

    private final SecurityProperties security;

    public WebConfig(SecurityProperties security) {
        this.security = security;
    }

    private static final String JOBS = WebConfig.class.getName() + ".jobs";

    /** Remembers a request's queued model work so it can be dropped if the request ends first. */
    static <T> CompletableFuture<T> track(CompletableFuture<T> job) {
        RequestAttributes attributes = RequestContextHolder.getRequestAttributes();
        if (attributes != null) {
            @SuppressWarnings("unchecked")
            List<CompletableFuture<?>> jobs = (List<CompletableFuture<?>>) attributes.getAttribute(JOBS, RequestAttributes.SCOPE_REQUEST);
            if (jobs == null) {
                jobs = new ArrayList<>();
                attributes.setAttribute(JOBS, jobs, RequestAttributes.SCOPE_REQUEST);
            }
            jobs.add(job);
        }
        return job;
    }

    private static void cancelJobs(NativeWebRequest request) {
        Object jobs = request.getAttribute(JOBS, RequestAttributes.SCOPE_REQUEST);
        if (jobs instanceof List<?> list) {
            list.forEach(j -> ((CompletableFuture<?>) j).cancel(false)); // the scheduler skips cancelled work
        }
    }

    @Override
    public void configureAsyncSupport(AsyncSupportConfigurer configurer) {
        configurer.registerDeferredResultInterceptors(new DeferredResultProcessingInterceptor() {
            @Override
            public <T> boolean handleTimeout(NativeWebRequest request, DeferredResult<T> result) {
                cancelJobs(request);
                return true;
            }

            @Override
            public <T> boolean handleError(NativeWebRequest request, DeferredResult<T> result, Throwable t) {
                cancelJobs(request);
                return true;
            }
        });
    }

    @Override
    public void addCorsMappings(CorsRegistry registry) {
        if (security.corsAllowedOrigins().isEmpty()) {
            return;
        }
        registry.addMapping("/v1/**")
                .allowedOrigins(security.corsAllowedOrigins().toArray(new String[0]))
                .allowedMethods("GET", "POST")
                .allowedHeaders("Content-Type", "Accept", "X-API-Key", "Authorization")
                .exposedHeaders("X-Seed", "Retry-After")
                .maxAge(3600);
    }
}
