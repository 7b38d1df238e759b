package dev.glowserve.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * helm lint and helm template (through helm-java, offline): every rendered variant read strictly into Kubernetes's
 * own types, and the pod checked against what the image (Dockerfile) and its smoke test (docker/smoke-test.sh) need.
 */
class HelmChartTest {

    static final Path CHART = Path.of("helm/glow-serve");
    /** Endpoints the app serves (SecurityTest checks each answers 200 without an API key). */
    static final Set<String> PROBE_PATHS = Set.of("/actuator/health/liveness", "/actuator/health/readiness");

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> render(Map<String, Object> sets) {
        String out = renderText(sets);
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object o : new Yaml().loadAll(out)) {
            if (o != null) {
                docs.add((Map<String, Object>) o);
            }
        }
        return docs;
    }

    static Map<String, Object> kind(List<Map<String, Object>> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.get("kind"))).findFirst().orElse(null);
    }

    @SuppressWarnings("unchecked")
    static <T> T at(Object node, Object... path) {
        Object n = node;
        for (Object p : path) {
            n = p instanceof Integer i ? ((List<Object>) n).get(i) : ((Map<String, Object>) n).get(p);
            if (n == null) {
                return null;
            }
        }
        return (T) n;
    }

    @Test
    void lintPasses() {
        LintResult r = new Helm(CHART).lint().strict().call();
        assertThat(r.isFailed()).as(String.join("\n", r.getMessages())).isFalse();
    }

    @Test
    void defaultsRenderASecureDeploymentWithRealProbesAndMatchingPorts() throws Exception {
        List<Map<String, Object>> docs = render(Map.of());
        Map<String, Object> dep = kind(docs, "Deployment");
        Map<String, Object> container = at(dep, "spec", "template", "spec", "containers", 0);
        for (String probe : new String[] {"startupProbe", "livenessProbe", "readinessProbe"}) {
            String path = at(container, probe, "httpGet", "path");
            assertThat(PROBE_PATHS).as(probe).contains(path);
            assertThat((Object) at(container, probe, "httpGet", "port")).as("probes on their own port").isEqualTo("management");
        }
        assertThat((String) at(container, "readinessProbe", "httpGet", "path")).isEqualTo("/actuator/health/readiness");
        int containerPort = at(container, "ports", 0, "containerPort");
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        assertThat(dockerfile).contains("EXPOSE " + containerPort);
        Map<String, Object> appYaml = new Yaml().load(Files.readString(Path.of("src/main/resources/application.yml")));
        assertThat((Integer) at(appYaml, "server", "port")).isEqualTo(containerPort);
        assertThat((String) at(container, "ports", 1, "name")).isEqualTo("management");
        assertThat((Integer) at(appYaml, "management", "server", "port")).isEqualTo((Integer) at(container, "ports", 1, "containerPort"));
        // gRPC: the container's port is the application's, and the Service carries it as cleartext HTTP/2
        assertThat((String) at(container, "ports", 2, "name")).isEqualTo("grpc");
        assertThat((Integer) at(appYaml, "glow", "grpc", "port")).isEqualTo((Integer) at(container, "ports", 2, "containerPort"));
        Map<String, Object> svc = kind(docs, "Service");
        assertThat((Object) at(svc, "spec", "ports", 0, "targetPort")).isEqualTo("http");
        assertThat((Object) at(svc, "spec", "ports", 1, "targetPort")).isEqualTo("grpc");
        assertThat((String) at(svc, "spec", "ports", 1, "appProtocol")).isEqualTo("kubernetes.io/h2c");
        assertThat((Object) at(svc, "spec", "ports", 2, "targetPort")).isEqualTo("management");

        Map<String, Object> pod = at(dep, "spec", "template", "spec");
        assertThat((Boolean) at(pod, "securityContext", "runAsNonRoot")).isTrue();
        assertThat((Boolean) at(container, "securityContext", "readOnlyRootFilesystem")).isTrue();
        assertThat((Boolean) at(container, "securityContext", "allowPrivilegeEscalation")).isFalse();
        assertThat((List<String>) at(container, "securityContext", "capabilities", "drop")).containsExactly("ALL");
        List<Map<String, Object>> mounts = at(container, "volumeMounts");
        assertThat(mounts).extracting(m -> m.get("mountPath")).contains("/tmp", "/var/cache/djl");
        assertThat(((Map<String, Object>) at(container, "resources", "limits"))).doesNotContainKey("nvidia.com/gpu");
        assertThat((Object) at(pod, "nodeSelector")).isNull();

        // the ConfigMap holds valid application settings, CPU by default
        Map<String, Object> cm = kind(docs, "ConfigMap");
        Map<String, Object> config = new Yaml().load((String) at(cm, "data", "application.yaml"));
        assertThat((String) at(config, "glow", "device")).isEqualTo("auto");
        assertThat((Integer) at(config, "server", "port")).isEqualTo(containerPort);
        assertThat((Integer) at(config, "glow", "grpc", "port")).isEqualTo((Integer) at(container, "ports", 2, "containerPort"));
        assertThat(kind(docs, "PodDisruptionBudget")).isNotNull();
        assertThat(kind(docs, "HorizontalPodAutoscaler")).isNull();
        assertThat(kind(docs, "Ingress")).isNull();
        assertThat(kind(docs, "ServiceMonitor")).isNull();
        assertThat(kind(docs, "Secret")).isNull();
    }

    @Test
    void gpuValuesAddTheGpuLimitNodeSelectionAndDevice() {
        List<Map<String, Object>> docs = render(Map.of("gpu.enabled", "true", "gpu.count", "2",
                "gpu.nodeSelector.accelerator", "nvidia-h100"));
        Map<String, Object> dep = kind(docs, "Deployment");
        Map<String, Object> container = at(dep, "spec", "template", "spec", "containers", 0);
        assertThat((Object) at(container, "resources", "limits", "nvidia.com/gpu")).isEqualTo(2);
        assertThat((String) at(dep, "spec", "template", "spec", "nodeSelector", "accelerator")).isEqualTo("nvidia-h100");
        List<Map<String, Object>> tolerations = at(dep, "spec", "template", "spec", "tolerations");
        assertThat(tolerations).extracting(t -> t.get("key")).contains("nvidia.com/gpu");
        Map<String, Object> config = new Yaml().load((String) at(kind(docs, "ConfigMap"), "data", "application.yaml"));
        assertThat((String) at(config, "glow", "device")).isEqualTo("gpu");
    }

    @Test
    void autoscalingTargetsTheDeployment() {
        List<Map<String, Object>> docs = render(Map.of("autoscaling.enabled", "true", "autoscaling.maxReplicas", "7"));
        Map<String, Object> hpa = kind(docs, "HorizontalPodAutoscaler");
        Map<String, Object> dep = kind(docs, "Deployment");
        assertThat((String) at(hpa, "spec", "scaleTargetRef", "kind")).isEqualTo("Deployment");
        assertThat((String) at(hpa, "spec", "scaleTargetRef", "name")).isEqualTo(at(dep, "metadata", "name"));
        assertThat((Integer) at(hpa, "spec", "maxReplicas")).isEqualTo(7);
        assertThat((Object) at(dep, "spec", "replicas")).as("the HPA owns the replica count").isNull();
    }

    @Test
    void optionalPiecesRenderWhenAskedFor() {
        List<Map<String, Object>> docs = render(Map.of("ingress.enabled", "true", "metrics.serviceMonitor.enabled", "true",
                "apiKey.enabled", "true", "apiKey.value", "k3y", "cors.allowedOrigins[0]", "https://app.example",
                "models.source", "volume", "models.volume.persistentVolumeClaim.claimName", "glow-models"));
        assertThat((String) at(kind(docs, "Ingress"), "spec", "rules", 0, "http", "paths", 0, "backend", "service", "port", "name"))
                .isEqualTo("http");
        assertThat((String) at(kind(docs, "ServiceMonitor"), "spec", "endpoints", 0, "path")).isEqualTo("/actuator/prometheus");
        Map<String, Object> secret = kind(docs, "Secret");
        assertThat((String) at(secret, "data", "api-key")).isEqualTo(java.util.Base64.getEncoder().encodeToString("k3y".getBytes()));
        Map<String, Object> config = new Yaml().load((String) at(kind(docs, "ConfigMap"), "data", "application.yaml"));
        assertThat((String) at(config, "glow", "security", "api-key-file")).isEqualTo("/etc/glow-serve/api-key/key");
        assertThat((List<String>) at(config, "glow", "security", "cors-allowed-origins")).containsExactly("https://app.example");
        assertThat((String) at(config, "glow", "models", 0, "path")).isEqualTo("/models/fashion-mnist");
        Map<String, Object> pod = at(kind(docs, "Deployment"), "spec", "template", "spec");
        List<Map<String, Object>> volumes = at(pod, "volumes");
        assertThat(volumes).extracting(v -> v.get("name")).contains("models", "api-key");
        assertThatThrownBy(() -> render(Map.of("models.source", "volume"))).hasMessageContaining("models.volume");
        assertThatThrownBy(() -> render(Map.of("apiKey.enabled", "true"))).hasMessageContaining("apiKey.value");
        assertThatThrownBy(() -> render(Map.of("autoscaling.enabled", "true", "autoscaling.metric", "memory")))
                .hasMessageContaining("use queue or cpu");
        assertThatThrownBy(() -> render(Map.of("kserve.enabled", "true", "kserve.protocol", "tcp"))).hasMessageContaining("use http or grpc");
    }

    /** Every variant a user can switch on, rendered: each document must be a valid Kubernetes object. */
    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of("defaults", Map.of()),
                Arguments.of("GPU", Map.of("gpu.enabled", "true", "gpu.nodeSelector.accelerator", "nvidia-h100")),
                Arguments.of("autoscaling", Map.of("autoscaling.enabled", "true")),
                Arguments.of("autoscaling on queue depth", Map.of("autoscaling.enabled", "true", "autoscaling.metric", "queue",
                        "autoscaling.targetQueueDepth", "24")),
                Arguments.of("ingress with TLS", Map.of("ingress.enabled", "true", "ingress.className", "nginx",
                        "ingress.tls[0].secretName", "glow-tls", "ingress.tls[0].hosts[0]", "glow.example.com")),
                Arguments.of("no PDB", Map.of("podDisruptionBudget.enabled", "false")),
                Arguments.of("ServiceMonitor", Map.of("metrics.serviceMonitor.enabled", "true")),
                Arguments.of("PrometheusRule and dashboard", Map.of("metrics.prometheusRule.enabled", "true",
                        "metrics.dashboard.enabled", "true")),
                Arguments.of("API key secret", Map.of("apiKey.enabled", "true", "apiKey.value", "k3y")),
                Arguments.of("existing API key secret", Map.of("apiKey.enabled", "true", "apiKey.existingSecret", "mine")),
                Arguments.of("model volume", Map.of("models.source", "volume",
                        "models.volume.persistentVolumeClaim.claimName", "glow-models")),
                Arguments.of("everything", Map.of("gpu.enabled", "true", "autoscaling.enabled", "true", "ingress.enabled", "true",
                        "metrics.serviceMonitor.enabled", "true", "apiKey.enabled", "true", "apiKey.value", "k3y",
                        "models.source", "volume", "models.volume.persistentVolumeClaim.claimName", "glow-models",
                        "cors.allowedOrigins[0]", "https://app.example")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void everyRenderedManifestIsAValidKubernetesObject(String variant, Map<String, Object> sets) throws Exception {
        List<HasMetadata> resources = KubernetesManifests.parse(renderText(sets));
        assertThat(resources).extracting(HasMetadata::getKind).contains("Deployment", "Service", "ConfigMap", "ServiceAccount");
        for (HasMetadata r : resources) {
            assertThat(r).as("%s is typed, not generic", r.getKind()).isNotInstanceOf(GenericKubernetesResource.class);
        }
        Deployment deployment = only(resources, Deployment.class);
        assertThat(deployment.getSpec().getTemplate().getSpec().getContainers()).hasSize(1);
        if (sets.containsKey("metrics.serviceMonitor.enabled")) {
            ServiceMonitor monitor = only(resources, ServiceMonitor.class);
            assertThat(monitor.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
            assertThat(monitor.getSpec().getSelector().getMatchLabels())
                    .isEqualTo(deployment.getSpec().getSelector().getMatchLabels());
            var endpoint = monitor.getSpec().getEndpoints().get(0);
            assertThat(endpoint.getPort()).as("metrics from the management port").isEqualTo("management");
            assertThat(endpoint.getPath()).isEqualTo("/actuator/prometheus");
            assertThat(endpoint.getInterval()).isEqualTo("30s");
            assertThat(endpoint.getScrapeTimeout()).isEqualTo("10s");
        }
        if (sets.containsKey("autoscaling.enabled")) {
            HorizontalPodAutoscaler hpa = only(resources, HorizontalPodAutoscaler.class);
            assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo(deployment.getMetadata().getName());
            assertThat(deployment.getSpec().getReplicas()).isNull();
            var metric = hpa.getSpec().getMetrics().get(0);
            if ("queue".equals(sets.get("autoscaling.metric"))) {
                assertThat(metric.getType()).isEqualTo("Pods");
                assertThat(metric.getPods().getMetric().getName()).isEqualTo("glow_queue_depth");
                assertThat(metric.getPods().getTarget().getType()).isEqualTo("AverageValue");
                assertThat(metric.getPods().getTarget().getAverageValue()).hasToString("24");
            } else {
                assertThat(metric.getType()).isEqualTo("Resource");
                assertThat(metric.getResource().getName()).isEqualTo("cpu");
            }
        }
        if (sets.containsKey("metrics.prometheusRule.enabled")) {
            PrometheusRule rule = only(resources, PrometheusRule.class);
            assertThat(rule.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
            Map<String, String> alerts = new java.util.HashMap<>();
            rule.getSpec().getGroups().forEach(g -> g.getRules().forEach(r -> alerts.put(r.getAlert(), r.getExpr().getStrVal())));
            assertThat(alerts.keySet()).containsExactlyInAnyOrder("GlowServeInputDrift", "GlowServeOutlierRate", "GlowServeSlowRequests");
            assertThat(alerts.get("GlowServeInputDrift")).contains("glow_drift_p_value{test=\"combined\"}").contains("< 0.001")
                    .contains("glow_drift_window_inputs");
            assertThat(alerts.get("GlowServeOutlierRate")).contains("glow_input_flagged_total").contains("glow_input_ood_p_value_count");
            assertThat(alerts.get("GlowServeSlowRequests")).contains("glow_requests_seconds_bucket");
        }
        if (sets.containsKey("metrics.dashboard.enabled")) {
            ConfigMap dashboard = resources.stream().filter(ConfigMap.class::isInstance).map(ConfigMap.class::cast)
                    .filter(c -> c.getMetadata().getName().endsWith("-dashboard")).findFirst().orElseThrow();
            assertThat(dashboard.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
            JsonNode json = new ObjectMapper().readTree(dashboard.getData().get("glow-serve.json"));
            List<String> exprs = json.findValuesAsString("expr");
            String all = String.join("\n", exprs);
            for (String metric : new String[] {"glow_requests_seconds_bucket", "grpc_server_requests_seconds_bucket",
                    "glow_queue_wait_seconds_bucket", "glow_model_forward_seconds_bucket", "glow_queue_depth", "glow_batch_size_sum",
                    "glow_input_bits_per_dim", "glow_input_ood_p_value", "glow_drift_p_value"}) {
                assertThat(all).as("the dashboard shows %s", metric).contains(metric);
            }
            assertThat(json.get("panels").size()).isEqualTo(8);
        }
        if (sets.containsKey("ingress.enabled")) {
            Ingress ingress = only(resources, Ingress.class);
            assertThat(ingress.getSpec().getRules().get(0).getHttp().getPaths().get(0).getBackend().getService().getName())
                    .isEqualTo(only(resources, Service.class).getMetadata().getName());
        }
        assertThat(resources.stream().anyMatch(PodDisruptionBudget.class::isInstance))
                .isEqualTo(!sets.containsKey("podDisruptionBudget.enabled"));
        assertThat(resources.stream().anyMatch(Secret.class::isInstance))
                .isEqualTo("k3y".equals(sets.get("apiKey.value")));
    }

    /**
     * With kserve.enabled, KServe runs the image: a ServingRuntime for the Open Inference Protocol and an
     * InferenceService that asks for it, the runtime's pod as hardened as the chart's own, and none of the objects
     * KServe makes itself.
     */
    @ParameterizedTest(name = "storageUri: {0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "s3://models/fashion-mnist/2"})
    void kserveRendersAServingRuntimeForV2AndAnInferenceServiceUsingIt(String storageUri) {
        Map<String, Object> sets = new java.util.HashMap<>(Map.of("kserve.enabled", "true", "apiKey.enabled", "true",
                "apiKey.existingSecret", "mine", "gpu.enabled", "true", "gpu.nodeSelector.accelerator", "nvidia-h100"));
        if (!storageUri.isEmpty()) {
            sets.put("kserve.storageUri", storageUri);
        }
        List<HasMetadata> resources = KubernetesManifests.parse(renderText(sets));
        assertThat(resources).extracting(HasMetadata::getKind).containsExactlyInAnyOrder("ServiceAccount", "ConfigMap",
                "ServingRuntime", "InferenceService");
        GenericKubernetesResource runtime = (GenericKubernetesResource) resources.stream().filter(r -> r.getKind().equals("ServingRuntime"))
                .findFirst().orElseThrow();
        GenericKubernetesResource isvc = (GenericKubernetesResource) resources.stream().filter(r -> r.getKind().equals("InferenceService"))
                .findFirst().orElseThrow();
        assertThat(runtime.getApiVersion()).isEqualTo("serving.kserve.io/v1alpha1");
        assertThat(isvc.getApiVersion()).isEqualTo("serving.kserve.io/v1beta1");
        Map<String, Object> spec = runtime.get("spec");
        assertThat((List<?>) at(spec, "protocolVersions")).isEqualTo(List.of("v2"));
        assertThat((String) at(spec, "supportedModelFormats", 0, "name")).isEqualTo("glow");
        assertThat((Boolean) at(spec, "supportedModelFormats", 0, "autoSelect")).isTrue();

        // the runtime's pod: typed as Kubernetes reads it, hardened as the chart's Deployment is
        Deployment plain = only(KubernetesManifests.parse(renderText(Map.of("apiKey.enabled", "true", "apiKey.existingSecret", "mine",
                "gpu.enabled", "true", "gpu.nodeSelector.accelerator", "nvidia-h100"))), Deployment.class);
        Container want = plain.getSpec().getTemplate().getSpec().getContainers().get(0);
        List<Object> containers = at(spec, "containers");
        assertThat(containers).hasSize(1);
        Container c = KubernetesManifests.strictly(containers.get(0), Container.class, "ServingRuntime.spec.containers[0]");
        assertThat(c.getName()).isEqualTo("kserve-container");
        assertThat(c.getImage()).isEqualTo(want.getImage());
        assertThat(c.getSecurityContext()).isEqualTo(want.getSecurityContext());
        assertThat(c.getEnv()).isEqualTo(want.getEnv());
        assertThat(c.getVolumeMounts()).isEqualTo(want.getVolumeMounts());
        assertThat(c.getResources()).isEqualTo(want.getResources());
        assertThat(c.getResources().getLimits()).containsKey("nvidia.com/gpu");
        assertThat(c.getPorts()).singleElement().satisfies(p -> assertThat(p.getContainerPort()).isEqualTo(8080));
        // KServe's gRPC: the one port is h2c on the application's gRPC port; the probes stay on HTTP
        sets.put("kserve.protocol", "grpc");
        GenericKubernetesResource grpcRuntime = (GenericKubernetesResource) KubernetesManifests.parse(renderText(sets)).stream()
                .filter(r -> r.getKind().equals("ServingRuntime")).findFirst().orElseThrow();
        Container g = KubernetesManifests.strictly(((List<Object>) at(grpcRuntime.get("spec"), "containers")).get(0), Container.class,
                "ServingRuntime.spec.containers[0]");
        assertThat(g.getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("h2c");
            assertThat(p.getContainerPort()).isEqualTo(8081);
        });
        assertThat(g.getReadinessProbe()).isEqualTo(c.getReadinessProbe());
        sets.remove("kserve.protocol");
        assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/v2/health/ready");
        assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/v2/health/live");
        assertThat(c.getArgs()).containsExactly("serve", "--glow.models[0].path=" + (storageUri.isEmpty() ? "classpath:models/fashion-mnist"
                : "/mnt/models"), "--glow.models[0].name={{.Name}}");
        List<Object> volumes = at(spec, "volumes");
        List<Volume> typedVolumes = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            typedVolumes.add(KubernetesManifests.strictly(volumes.get(i), Volume.class, "ServingRuntime.spec.volumes[" + i + "]"));
        }
        assertThat(typedVolumes).isEqualTo(plain.getSpec().getTemplate().getSpec().getVolumes());
        Map<?, ?> nodeSelector = KubernetesManifests.strictly(at(spec, "nodeSelector"), Map.class, "nodeSelector");
        assertThat(nodeSelector).isEqualTo(plain.getSpec().getTemplate().getSpec().getNodeSelector()).isNotEmpty();

        // the InferenceService asks for that runtime, protocol v2, and the artifact when one is named
        Map<String, Object> predictor = isvc.get("spec", "predictor");
        assertThat(isvc.getMetadata().getName()).isEqualTo("glow-glow-serve");
        assertThat((String) at(predictor, "model", "runtime")).isEqualTo(runtime.getMetadata().getName());
        assertThat((String) at(predictor, "model", "protocolVersion")).isEqualTo("v2");
        assertThat((String) at(predictor, "model", "modelFormat", "name")).isEqualTo("glow");
        assertThat((String) at(predictor, "model", "storageUri")).isEqualTo(storageUri.isEmpty() ? null : storageUri);
        assertThat((String) at(predictor, "serviceAccountName")).isEqualTo(only(resources, io.fabric8.kubernetes.api.model.ServiceAccount.class)
                .getMetadata().getName());
        io.fabric8.kubernetes.api.model.PodSecurityContext podSecurity = KubernetesManifests.strictly(at(predictor, "securityContext"),
                io.fabric8.kubernetes.api.model.PodSecurityContext.class, "predictor.securityContext");
        assertThat(podSecurity).isEqualTo(plain.getSpec().getTemplate().getSpec().getSecurityContext());
        assertThat(isvc.getMetadata().getAnnotations()).containsEntry("serving.kserve.io/deploymentMode", "RawDeployment");
        assertThatThrownBy(() -> renderText(Map.of("kserve.enabled", "true", "models.source", "volume",
                "models.volume.persistentVolumeClaim.claimName", "x"))).hasMessageContaining("kserve.storageUri");
    }

    @Test
    void theStrictReadingRejectsUnknownFieldsAndWrongTypes() {
        String good = renderText(Map.of());
        assertThat(KubernetesManifests.parse(good)).isNotEmpty();
        String unknownField = good.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: true\n            readOnlyRoot: true");
        assertThatThrownBy(() -> KubernetesManifests.parse(unknownField)).hasMessageContaining("readOnlyRoot");
        String wrongType = good.replace("containerPort: 8080", "containerPort: [8080]");
        assertThat(wrongType).isNotEqualTo(good);
        assertThatThrownBy(() -> KubernetesManifests.parse(wrongType)).isInstanceOfAny(AssertionError.class, RuntimeException.class);
        String misplaced = good.replace("terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 45\n      grace: 45");
        assertThatThrownBy(() -> KubernetesManifests.parse(misplaced)).hasMessageContaining("grace");
        String notABoolean = good.replace("runAsNonRoot: true", "runAsNonRoot: sometimes");
        assertThatThrownBy(() -> KubernetesManifests.parse(notABoolean)).isInstanceOfAny(AssertionError.class, RuntimeException.class);
    }

    /** The pod as the image needs it: the image's user, its only writable paths as emptyDirs, its health endpoint and port. */
    @Test
    void thePodRunsTheImageTheWayTheImageAndTheSmokeTestExpect() throws Exception {
        Deployment deployment = only(KubernetesManifests.parse(renderText(Map.of())), Deployment.class);
        PodSpec pod = deployment.getSpec().getTemplate().getSpec();
        Container container = pod.getContainers().get(0);
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        Map<String, String> smoke = shellAssignments(Files.readString(Path.of("docker/smoke-test.sh")));

        // the user and group the image runs as, which the smoke test runs it as too
        String user = dockerfile.lines().filter(l -> l.startsWith("USER ")).findFirst().orElseThrow().substring(5).trim();
        assertThat(user).isEqualTo(pod.getSecurityContext().getRunAsUser() + ":" + pod.getSecurityContext().getRunAsGroup());
        assertThat(pod.getSecurityContext().getRunAsUser()).isNotZero().hasToString(smoke.get("RUN_AS_USER"));
        assertThat(pod.getSecurityContext().getRunAsGroup()).hasToString(smoke.get("RUN_AS_GROUP"));
        assertThat(pod.getSecurityContext().getFsGroup()).isEqualTo(pod.getSecurityContext().getRunAsGroup());
        assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
        SecurityContext sc = container.getSecurityContext();
        assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
        assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
        assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");

        // read-only root: the paths the image writes to are exactly the chart's emptyDirs
        Map<String, String> volumeOf = new java.util.HashMap<>();
        container.getVolumeMounts().forEach(m -> volumeOf.put(m.getMountPath(), m.getName()));
        List<String> emptyDirs = pod.getVolumes().stream().filter(v -> v.getEmptyDir() != null).map(Volume::getName).toList();
        List<String> writable = container.getVolumeMounts().stream().filter(m -> emptyDirs.contains(m.getName()))
                .map(VolumeMount::getMountPath).sorted().toList();
        assertThat(writable).containsExactly("/tmp", "/var/cache/djl");
        assertThat(List.of(smoke.get("EMPTY_DIRS").split(" "))).containsExactlyInAnyOrderElementsOf(writable);
        assertThat(dockerfile).contains("-Djava.io.tmpdir=/tmp").contains("DJL_CACHE_DIR=/var/cache/djl")
                .contains("chown 10001:10001 /var/cache/djl");
        Map<String, String> env = new java.util.HashMap<>();
        container.getEnv().forEach(e -> env.put(e.getName(), e.getValue()));
        assertThat(env.get("DJL_CACHE_DIR")).isEqualTo("/var/cache/djl");
        assertThat(env.get("JAVA_TOOL_OPTIONS")).isEqualTo(smoke.get("JAVA_OPTS"))
                .isEqualTo(dockerfile.replaceAll("(?s).*JAVA_TOOL_OPTIONS=\"([^\"]+)\".*", "$1"));
        assertThat(env).doesNotContainKeys("ENGINE_CACHE_DIR", "PYTORCH_LIBRARY_PATH");

        // probes and HEALTHCHECK on the same endpoints and port
        String healthcheck = dockerfile.lines().filter(l -> l.startsWith("HEALTHCHECK")).findFirst().orElseThrow();
        assertThat(healthcheck).contains("\"" + container.getReadinessProbe().getHttpGet().getPath() + "\"");
        assertThat(smoke.get("READINESS_PATH")).isEqualTo(container.getReadinessProbe().getHttpGet().getPath());
        assertThat(PROBE_PATHS).contains(container.getStartupProbe().getHttpGet().getPath(),
                container.getLivenessProbe().getHttpGet().getPath());
        int port = container.getPorts().get(0).getContainerPort();
        int managementPort = container.getPorts().get(1).getContainerPort();
        assertThat(container.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo(container.getPorts().get(1).getName());
        int grpcPort = container.getPorts().get(2).getContainerPort();
        String expose = dockerfile.lines().filter(l -> l.startsWith("EXPOSE ")).findFirst().orElseThrow();
        assertThat(expose.substring(7).split(" ")).containsExactlyInAnyOrder(Integer.toString(port), Integer.toString(grpcPort),
                Integer.toString(managementPort));
        assertThat(Files.readString(Path.of("docker/healthcheck.sh"))).contains("port=${2:-" + managementPort + "}");
        assertThat(smoke.get("CONTAINER_PORT")).isEqualTo(Integer.toString(port));
        assertThat(smoke.get("MANAGEMENT_PORT")).isEqualTo(Integer.toString(managementPort));
        assertThat(smoke.get("GRPC_PORT")).isEqualTo(Integer.toString(grpcPort));

        // resources and the shutdown the smoke test reproduces
        assertThat(container.getResources().getLimits().get("memory")).hasToString(smoke.get("MEMORY_LIMIT"));
        assertThat(pod.getTerminationGracePeriodSeconds()).hasToString(smoke.get("GRACE_SECONDS"));
        Map<String, Object> config = new Yaml().load((String) at(kind(render(Map.of()), "ConfigMap"), "data", "application.yaml"));
        String appGrace = at(config, "glow", "batching", "shutdown-grace");
        assertThat(java.time.Duration.parse("PT" + appGrace.toUpperCase()).getSeconds())
                .as("the app drains before the pod is killed").isLessThan(pod.getTerminationGracePeriodSeconds());
        assertThat(container.getArgs()).containsExactly("serve");
        assertThat(dockerfile).contains("ENTRYPOINT [\"java\", \"-jar\", \"/app/glow-serve.jar\"]");
    }

    @Test
    void dockerfileBuildsFromSourceOrPacksTheBuiltJarOnPinnedBases() throws Exception {
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        assertThat(dockerfile).doesNotContain("# syntax").as("BuildKit would pull a frontend image");
        for (String arg : new String[] {"BUILD_IMAGE", "RUNTIME_IMAGE"}) {
            String image = dockerfile.replaceAll("(?s).*\nARG " + arg + "=(\\S+).*", "$1");
            assertThat(image).as(arg + " pinned to a version").matches("[a-z0-9./-]+:\\d+\\.\\d+\\.\\d+[^\\s]*|[^\\s]+@sha256:[0-9a-f]{64}");
        }
        List<String> stages = dockerfile.lines().filter(l -> l.startsWith("FROM ")).toList();
        assertThat(stages).contains("FROM ${BUILD_IMAGE} AS build", "FROM runtime-base AS prebuilt", "FROM runtime-base AS runtime");
        assertThat(stages.get(stages.size() - 1)).as("the default target builds from source").endsWith("AS runtime");
        List<String> users = dockerfile.lines().filter(l -> l.startsWith("USER ")).toList();
        assertThat(users).hasSize(1);
        assertThat(users.get(0).substring(5).trim()).doesNotStartWith("0").isNotEqualTo("root");
        String pom = Files.readString(Path.of("pom.xml"));
        String finalName = pom.replaceAll("(?s).*<finalName>([^<]+)</finalName>.*", "$1");
        assertThat(dockerfile).contains("COPY --from=build /src/target/" + finalName + ".jar")
                .contains("COPY target/" + finalName + ".jar");
        assertThat(Files.readString(Path.of(".dockerignore"))).contains("!target/" + finalName + ".jar");
        // the image builds with the same command the README gives (and CI runs through ./mvnw)
        assertThat(dockerfile).contains("RUN ./mvnw -B -q -DskipTests package");
        assertThat(Files.readString(Path.of("README.md"))).contains("./mvnw -B -q -DskipTests package");
        // the natives the image prepares are the ones the jar carries
        String pytorch = pom.replaceAll("(?s).*<pytorch.version>([^<]+)</pytorch.version>.*", "$1");
        assertThat(dockerfile).contains("ARG PYTORCH_VERSION=" + pytorch).contains("ARG PYTORCH_FLAVOR=cpu")
                .contains("PYTORCH_LIBRARY_PATH=/opt/djl/pytorch/${PYTORCH_VERSION}-${PYTORCH_FLAVOR}-linux-x86_64");
        // the prebuilt and the source image are laid out alike: the same copies from their unpack stages
        List<String> prebuilt = copies(dockerfile, "prebuilt", "unpack-prebuilt");
        assertThat(prebuilt).hasSizeGreaterThanOrEqualTo(5).isEqualTo(copies(dockerfile, "runtime", "unpack-source"));
    }

    private static List<String> copies(String dockerfile, String stage, String from) {
        String body = dockerfile.substring(dockerfile.indexOf("AS " + stage + "\n"));
        int next = body.indexOf("\nFROM ");
        return (next < 0 ? body : body.substring(0, next)).lines().filter(l -> l.startsWith("COPY ") || l.startsWith("RUN "))
                .map(l -> l.replace("--from=" + from + " ", "--from=UNPACKED ")).toList();
    }

    /** NAME=value lines of a shell script (values unquoted). */
    static Map<String, String> shellAssignments(String script) {
        Map<String, String> out = new java.util.HashMap<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^([A-Z_]+)=(\"([^\"]*)\"|(\\S*))$").matcher(script);
        while (m.find()) {
            out.put(m.group(1), m.group(3) != null ? m.group(3) : m.group(4));
        }
        return out;
    }

    static <T> T only(List<HasMetadata> resources, Class<T> type) {
        List<T> of = resources.stream().filter(type::isInstance).map(type::cast).toList();
        assertThat(of).as(type.getSimpleName()).hasSize(1);
        return of.get(0);
    }

    /** The pod's threads follow its CPUs, not the node's: the limit, else the request, rounded up, or `cpus`. */
    @Test
    void thePodSizesItsThreadsByItsOwnCpus() {
        Map<Map<String, Object>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(Map.of(), "2");
        cases.put(Map.of("resources.requests.cpu", "1500m"), "2");
        cases.put(Map.of("resources.requests.cpu", "500m"), "1");
        cases.put(Map.of("resources.limits.cpu", "4"), "4");
        cases.put(Map.of("resources.requests.cpu", "2", "cpus", "8"), "8");
        cases.forEach((sets, cpus) -> {
            Container c = only(KubernetesManifests.parse(renderText(sets)), Deployment.class).getSpec().getTemplate().getSpec()
                    .getContainers().get(0);
            assertThat(c.getEnv()).as(sets.toString()).anySatisfy(e -> {
                assertThat(e.getName()).isEqualTo("JDK_JAVA_OPTIONS");
                assertThat(e.getValue()).isEqualTo("-XX:ActiveProcessorCount=" + cpus);
            });
        });
    }

    /**
     * docs/KUBERNETES.md followed as written: the image its build step tags is the one the Deployment its install step
     * renders runs, and the rollout and port-forward names are the chart's.
     */
    @Test
    void theKubernetesGuideDeploysTheImageItBuilds() throws Exception {
        String guide = Files.readString(Path.of("docs/KUBERNETES.md"));
        java.util.regex.Matcher built = java.util.regex.Pattern.compile("docker build --target prebuilt .* -t (\\S+) \\.").matcher(guide);
        assertThat(built.find()).as("the guide's build step").isTrue();
        java.util.regex.Matcher install = java.util.regex.Pattern.compile("(?m)^helm install (\\S+) helm/glow-serve$").matcher(guide);
        assertThat(install.find()).as("the guide's install step, with the chart's defaults").isTrue();
        Deployment deployment = only(KubernetesManifests.parse(new Helm(CHART).template().withName(install.group(1)).call()),
                Deployment.class);
        assertThat(deployment.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo(built.group(1));
        assertThat(guide).contains("deployment/" + deployment.getMetadata().getName())
                .contains("service/" + deployment.getMetadata().getName() + " 8080:80");
        for (String load : new String[] {"kind load docker-image " + built.group(1), "minikube image load " + built.group(1)}) {
            assertThat(guide).contains(load);
        }
    }

    static String renderText(Map<String, Object> sets) {
        TemplateCommand t = new Helm(CHART).template().withName("glow");
        sets.forEach(t::set);
        return t.call();
    }
}
