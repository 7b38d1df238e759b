package dev.glowserve.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** helm lint and helm template (through helm-java, offline) with assertions on what renders. */
class HelmChartTest {

    static final Path CHART = Path.of("helm/glow-serve");
    /** Endpoints the app serves (SecurityTest checks each answers 200 without an API key). */
    static final Set<String> PROBE_PATHS = Set.of("/actuator/health/liveness", "/actuator/health/readiness");

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> render(Map<String, Object> sets) {
        TemplateCommand t = new Helm(CHART).template().withName("glow");
        sets.forEach(t::set);
        String out = t.call();
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
            assertThat((Object) at(container, probe, "httpGet", "port")).isEqualTo("http");
        }
        assertThat((String) at(container, "readinessProbe", "httpGet", "path")).isEqualTo("/actuator/health/readiness");
        int containerPort = at(container, "ports", 0, "containerPort");
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        assertThat(dockerfile).contains("EXPOSE " + containerPort);
        Map<String, Object> appYaml = new Yaml().load(Files.readString(Path.of("src/main/resources/application.yml")));
        assertThat((Integer) at(appYaml, "server", "port")).isEqualTo(containerPort);
        Map<String, Object> svc = kind(docs, "Service");
        assertThat((Object) at(svc, "spec", "ports", 0, "targetPort")).isEqualTo("http");

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
    }

    @Test
    void dockerfileIsPinnedNonRootAndCopiesTheJarTheBuildMakes() throws Exception {
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        List<String> froms = dockerfile.lines().filter(l -> l.startsWith("FROM ")).toList();
        assertThat(froms).hasSize(2);
        for (String from : froms) {
            String image = from.split("\\s+")[1];
            assertThat(image).as("base image pinned to a version").matches("[a-z0-9./-]+:\\d+\\.\\d+\\.\\d+[^\\s]*|[^\\s]+@sha256:[0-9a-f]{64}");
        }
        List<String> users = dockerfile.lines().filter(l -> l.startsWith("USER ")).toList();
        assertThat(users).hasSize(1);
        String user = users.get(0).substring(5).trim();
        assertThat(user).doesNotStartWith("0").isNotEqualTo("root");
        String pom = Files.readString(Path.of("pom.xml"));
        String finalName = pom.replaceAll("(?s).*<finalName>([^<]+)</finalName>.*", "$1");
        assertThat(dockerfile).contains("COPY --from=build /src/target/" + finalName + ".jar");
        String readme = Files.readString(Path.of("README.md"));
        // the image builds with the same command the README gives (and CI runs through ./mvnw)
        assertThat(dockerfile).contains("RUN ./mvnw -B -q -DskipTests package");
        assertThat(readme).contains("./mvnw -B -q -DskipTests package");
        assertThat(dockerfile).contains("HEALTHCHECK").contains("/actuator/health/readiness");
        assertThat(dockerfile).contains("ENGINE_CACHE_DIR").contains("ARG PYTORCH_FLAVOR=cpu");
    }
}
