package dev.glowserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The top-level openapi.yaml is the served contract: this fails when /v3/api-docs and the file
 * differ. Regenerate with {@code ./mvnw test -Dtest=OpenApiContractTest -Dopenapi.update=true}.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class OpenApiContractTest extends ApiTestBase {

    static final Path FILE = Path.of("openapi.yaml");

    @Test
    void servedContractEqualsOpenapiYaml() throws Exception {
        Reply yaml = get("/v3/api-docs.yaml");
        assertThat(yaml.status()).isEqualTo(200);
        if (Boolean.getBoolean("openapi.update")) {
            Files.write(FILE, yaml.body());
        }
        ObjectMapper yamlMapper = new ObjectMapper(new YAMLFactory());
        JsonNode served = new ObjectMapper().readTree(get("/v3/api-docs").body());
        JsonNode file = yamlMapper.readTree(FILE.toFile());
        assertThat(file).as("openapi.yaml is out of date: regenerate it (see this test's javadoc)").isEqualTo(served);
    }
}
