package dev.glowserve;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

/**
 * The floor plan of docs/DESIGN.md, checked on the compiled classes: the arrows run one way (api → serving → ood →
 * runtime → flow, artifact, data; cli → bench → train → runtime), and nothing below serving imports Spring or
 * Micrometer.
 */
class ArchitectureTest {

    private static JavaClasses classes;

    @BeforeAll
    static void importMain() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.glowserve");
    }

    @Test
    void theArrowsRunOneWay() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
                .layer("api").definedBy("dev.glowserve.api..")
                .layer("serving").definedBy("dev.glowserve.serving..")
                .layer("ood").definedBy("dev.glowserve.ood..")
                .layer("train").definedBy("dev.glowserve.train..")
                .layer("cli").definedBy("dev.glowserve.cli..")
                .layer("bench").definedBy("dev.glowserve.bench..")
                .layer("runtime").definedBy("dev.glowserve.runtime..")
                .layer("model").definedBy("dev.glowserve.flow..", "dev.glowserve.artifact..", "dev.glowserve.data..")
                .whereLayer("api").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("serving").mayOnlyBeAccessedByLayers("api", "cli")
                .whereLayer("bench").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("train").mayOnlyBeAccessedByLayers("cli", "bench")
                .whereLayer("ood").mayOnlyBeAccessedByLayers("serving", "api", "train", "bench", "cli")
                .whereLayer("runtime").mayOnlyBeAccessedByLayers("ood", "serving", "api", "train", "bench", "cli")
                .check(classes);
    }

    @Test
    void theCommandLineStartsTheServiceButDoesNotReachIntoIt() {
        // the gRPC protocol's generated messages are a wire format: the load command is their client, as any client is
        noClasses().that().resideInAPackage("dev.glowserve.cli..").and().doNotHaveSimpleName("ServeCommand")
                .should().dependOnClassesThat(JavaClass.Predicates.resideInAnyPackage("dev.glowserve.serving..", "dev.glowserve.api..")
                        .and(DescribedPredicate.not(JavaClass.Predicates.resideInAPackage("dev.glowserve.api.grpc.protocol.."))))
                .check(classes);
    }

    @Test
    void nothingBelowServingImportsSpring() {
        noClasses().that().resideInAnyPackage("dev.glowserve.flow..", "dev.glowserve.data..", "dev.glowserve.artifact..",
                        "dev.glowserve.runtime..", "dev.glowserve.ood..", "dev.glowserve.train..", "dev.glowserve.bench..")
                .should().dependOnClassesThat().resideInAnyPackage("org.springframework..", "io.micrometer..")
                .check(classes);
    }

    @Test
    void theModelDoesNotKnowWhoRunsIt() {
        noClasses().that().resideInAnyPackage("dev.glowserve.flow..", "dev.glowserve.data..", "dev.glowserve.artifact..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.glowserve.runtime..", "dev.glowserve.ood..",
                        "dev.glowserve.serving..", "dev.glowserve.api..", "dev.glowserve.train..", "dev.glowserve.bench..",
                        "dev.glowserve.cli..")
                .check(classes);
    }
}
