package dev.glowserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.glowserve.runtime.ClientError;
import dev.glowserve.serving.RepositoryControl;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Triton's model-repository extension: the repository's index, and loading a model version (a new version is
 * swapped in once the old one's requests finish) and unloading one, with {@code glow.model-control=explicit}.
 */
@RestController
public class V2RepositoryController implements V2RepositoryApi {

    private final RepositoryControl repository;
    private final ObjectMapper json;

    public V2RepositoryController(RepositoryControl repository, ObjectMapper json) {
        this.repository = repository;
        this.json = json;
    }

    @PostMapping(value = "/v2/repository/index", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public List<RepositoryModel> index(@RequestBody(required = false) byte[] body) {
        JsonNode request = object(body);
        V2Tensors.onlyFields(request, "the request", "ready");
        JsonNode ready = request.get("ready");
        if (ready != null && !ready.isBoolean()) {
            throw ClientError.malformed("\"ready\" must be true or false");
        }
        boolean onlyReady = ready != null && ready.asBoolean();
        return repository.index().stream().filter(e -> !onlyReady || e.state().equals("READY"))
                .map(e -> new RepositoryModel(e.name(), e.version(), e.state(), e.reason() == null ? "" : e.reason())).toList();
    }

    @PostMapping(value = "/v2/repository/models/{model}/load", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public Map<String, Object> load(@PathVariable String model, @RequestBody(required = false) byte[] body) {
        JsonNode request = object(body);
        V2Tensors.onlyFields(request, "the request", "parameters");
        JsonNode version = request.path("parameters").get("version");
        if (version != null && !version.isString() && !version.isIntegralNumber()) {
            throw ClientError.malformed("parameters.version must be a version such as \"2\"");
        }
        repository.load(model, version == null ? null : version.asString());
        return Map.of();
    }

    @PostMapping(value = "/v2/repository/models/{model}/unload", produces = MediaType.APPLICATION_JSON_VALUE)
    @Override
    public Map<String, Object> unload(@PathVariable String model, @RequestBody(required = false) byte[] body) {
        V2Tensors.onlyFields(object(body), "the request", "parameters");
        repository.unload(model);
        return Map.of();
    }

    /** One model version in the index; a model named in the configuration but not found has no version. */
    public record RepositoryModel(String name, @JsonInclude(JsonInclude.Include.NON_NULL) String version, String state, String reason) {}

    /** The optional JSON object body. */
    private JsonNode object(byte[] body) {
        if (body == null || body.length == 0) {
            return json.createObjectNode();
        }
        JsonNode n;
        try {
            n = json.readTree(new String(body, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw ClientError.malformed("the request body is not valid JSON");
        }
        if (n == null || !n.isObject()) {
            throw ClientError.malformed("the request body must be a JSON object");
        }
        return n;
    }
}
