package dev.glowserve.api;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.IOException;
import java.util.Collections;
import java.util.Enumeration;

/**
 * An Open Inference Protocol body is JSON, or JSON and binary tensors, whatever its Content-Type says (Triton reads
 * it so): a {@code /v2} request sent as a form ({@code curl -d}'s default) is passed on without a Content-Type, so
 * that neither the servlet container nor Spring parses its body as form fields.
 */
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 5)
public class ProtocolBodyFilter extends OncePerRequestFilter {

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String type = request.getContentType();
        return !ErrorBodies.isV2(request.getRequestURI()) || type == null
                || !type.toLowerCase(java.util.Locale.ROOT).startsWith(MediaType.APPLICATION_FORM_URLENCODED_VALUE);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        chain.doFilter(new HttpServletRequestWrapper(request) {
            @Override
            public String getContentType() {
                return null;
            }

            @Override
            public String getHeader(String name) {
                return "Content-Type".equalsIgnoreCase(name) ? null : super.getHeader(name);
            }

            @Override
            public Enumeration<String> getHeaders(String name) {
                return "Content-Type".equalsIgnoreCase(name) ? Collections.emptyEnumeration() : super.getHeaders(name);
            }
        }, response);
    }
}
