package dev.glowserve.deploy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.yaml.snakeyaml.Yaml;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rendered manifests read into fabric8's Kubernetes model, strictly: fabric8 keeps a field it does not know, or
 * one of the wrong type, in an object's additional properties instead of failing, so every object of the tree
 * must come out with none. Kinds without a model class (custom resources) come back as generic resources.
 */
final class KubernetesManifests {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    private KubernetesManifests() {}

    /** Every document of a multi-document YAML stream, typed; fails naming the first field Kubernetes would reject. */
    static List<HasMetadata> parse(String yaml) {
        List<HasMetadata> out = new ArrayList<>();
        for (Object doc : new Yaml().loadAll(yaml)) {
            if (doc == null) {
                continue;
            }
            String text = new Yaml().dump(doc);
            HasMetadata resource = SERIALIZATION.unmarshal(text, HasMetadata.class);
            String where = resource.getKind() + " " + resource.getMetadata().getName();
            if (!(resource instanceof GenericKubernetesResource)) {
                requireNoUnknownFields(resource, where, java.util.Collections.newSetFromMap(new IdentityHashMap<>()));
            }
            out.add(resource);
        }
        return out;
    }

    /**
     * A part of a custom resource that is a Kubernetes type (a ServingRuntime's containers, say), read as that type
     * as strictly as a whole manifest.
     */
    static <T> T strictly(Object part, Class<T> type, String where) {
        T typed = SERIALIZATION.unmarshal(SERIALIZATION.asJson(part), type);
        requireNoUnknownFields(typed, where, java.util.Collections.newSetFromMap(new IdentityHashMap<>()));
        return typed;
    }

    /** Walks the model's getters; an object with additional properties had a field its type does not have. */
    private static void requireNoUnknownFields(Object node, String path, Set<Object> seen) {
        if (node == null || !seen.add(node)) {
            return;
        }
        if (node instanceof List<?> list) {
            for (int i = 0; i < list.size(); i++) {
                requireNoUnknownFields(list.get(i), path + "[" + i + "]", seen);
            }
            return;
        }
        if (node instanceof Map<?, ?> map) {
            map.forEach((k, v) -> requireNoUnknownFields(v, path + "." + k, seen));
            return;
        }
        if (!(node instanceof KubernetesResource) && !node.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Method m : node.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || !m.getName().startsWith("get")
                    || m.getDeclaringClass() == Object.class) {
                continue;
            }
            Object value;
            try {
                value = m.invoke(node);
            } catch (IllegalAccessException | InvocationTargetException e) {
                continue;
            }
            if (m.getName().equals("getAdditionalProperties")) {
                if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    throw new AssertionError(path + ": fields unknown to " + node.getClass().getSimpleName()
                            + " or of the wrong type: " + extra);
                }
                continue;
            }
            String field = Character.toLowerCase(m.getName().charAt(3)) + m.getName().substring(4);
            requireNoUnknownFields(value, path + "." + field, seen);
        }
    }
}
