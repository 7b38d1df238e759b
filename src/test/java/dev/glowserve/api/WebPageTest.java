package dev.glowserve.api;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.context.SpringBootTest;
import tools.jackson.databind.JsonNode;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web page in a real headless Chromium (Debian's chromium + chromium-driver): samples,
 * temperature, class, interpolation, upload-and-score, and an API error shown in words.
 * Screenshots go to target/screenshots/. Under CI (CI=true) a missing browser fails the test.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class WebPageTest extends ApiTestBase {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SHOTS = Path.of("target/screenshots");

    WebDriver driver;
    WebDriverWait wait;

    @BeforeEach
    void browser() throws Exception {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER);
        if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            assertThat(present).as("CI needs Debian's chromium and chromium-driver (.ci/run installs them)").isTrue();
        }
        Assumptions.assumeTrue(present, "chromium / chromedriver not installed");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--window-size=1200,1600");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
        wait = new WebDriverWait(driver, Duration.ofSeconds(30));
        Files.createDirectories(SHOTS);
    }

    @AfterEach
    void quit() {
        if (driver != null) {
            driver.quit();
        }
    }

    private void shot(String name) throws Exception {
        File f = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
        Files.copy(f.toPath(), SHOTS.resolve(name + ".png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** Reads the page in one script, so a re-render in between cannot leave a stale element. */
    private Object js(String script) {
        return ((JavascriptExecutor) driver).executeScript(script);
    }

    private List<WebElement> images(String container) {
        return driver.findElements(By.cssSelector("#" + container + " img"));
    }

    private void idle(String id) {
        wait.until(d -> "false".equals(d.findElement(By.id(id)).getAttribute("aria-busy")));
    }

    @Test
    void samplesInterpolationAndScoringWorkInABrowser() throws Exception {
        driver.get("http://localhost:" + port + "/");
        wait.until(d -> images("samples").size() == 16);
        idle("samples");
        shot("1-samples");
        assertThat(driver.findElement(By.id("model-info")).getText()).contains("parameters");
        String before = (String) js("return document.querySelector('#samples img').src");

        // temperature by keyboard: the slider is a plain range input
        WebElement slider = driver.findElement(By.id("temperature"));
        slider.sendKeys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT);
        wait.until(d -> "0.9".equals(d.findElement(By.id("samples")).getAttribute("data-temperature")));
        idle("samples");
        assertThat(driver.findElement(By.id("temperature-value")).getText()).isEqualTo("0.90");
        assertThat((String) js("return document.querySelector('#samples img').src")).isNotEqualTo(before);
        shot("2-temperature");

        new Select(driver.findElement(By.id("class"))).selectByVisibleText("two");
        wait.until(d -> String.valueOf(js("const i = document.querySelectorAll('#samples img');"
                + " return i.length === 16 && i[0].alt")).contains("(two)"));
        idle("samples");

        // interpolation between two shipped examples
        new Select(driver.findElement(By.id("from-pick"))).selectByValue("sandal");
        new Select(driver.findElement(By.id("method"))).selectByValue("slerp");
        WebElement steps = driver.findElement(By.id("steps"));
        steps.clear();
        steps.sendKeys("5");
        driver.findElement(By.id("interpolate")).click();
        wait.until(d -> images("strip").size() == 5);
        idle("strip");
        shot("3-interpolation");

        // upload an image and read back its score and typicality
        Path png = Files.createTempFile("upload", ".png");
        Files.write(png, dev.glowserve.data.Png.encode(randomImage(11), 1, 28, 28));
        driver.findElement(By.id("score-file")).sendKeys(png.toString());
        wait.until(d -> !d.findElements(By.id("bpd-value")).isEmpty());
        idle("score-result");
        double bpd = Double.parseDouble(driver.findElement(By.id("bpd-value")).getText());
        assertThat(bpd).isGreaterThan(0);
        assertThat(driver.findElement(By.id("typicality")).getText()).startsWith("Compared with the test set");
        assertThat(driver.findElement(By.id("score-result")).getText()).contains("Most likely class");
        // the out-of-distribution verdict: words, p-value, and the held-out histogram with this image marked
        WebElement verdict = driver.findElement(By.id("ood-verdict"));
        double p = Double.parseDouble(verdict.getAttribute("data-p-value"));
        boolean outlier = Boolean.parseBoolean(verdict.getAttribute("data-outlier"));
        assertThat(outlier).isEqualTo(p < 0.05);
        assertThat(verdict.getText()).startsWith(outlier ? "Unlike the training data" : "Like the training data").contains("complexity score");
        assertThat(driver.findElements(By.cssSelector("#ood-histogram rect"))).hasSize(OodController.HISTOGRAM_BINS);
        double marked = Double.parseDouble(driver.findElement(By.id("ood-marker")).getAttribute("data-score"));
        JsonNode direct = post("/v1/models/tiny/ood", java.util.Map.of("images", List.of(pngBase64(randomImage(11))))).json();
        assertThat(marked).isEqualTo(direct.get("results").get(0).get("score").asDouble());
        assertThat(p).isEqualTo(direct.get("results").get(0).get("p_value").asDouble());
        shot("4-score");

        // a smooth blob, the tiny model's own kind of image, through the example picker's file input
        Path blob = Files.createTempFile("blob", ".png");
        Files.write(blob, dev.glowserve.data.Png.encode(TestModels.blob(3), 1, 28, 28));
        js("document.getElementById('score-result').innerHTML = ''");
        driver.findElement(By.id("score-file")).sendKeys(blob.toString());
        wait.until(d -> js("const v = document.getElementById('ood-verdict'); return v ? v.dataset.pValue : null") != null);
        idle("score-result");
        JsonNode blobDirect = post("/v1/models/tiny/ood", java.util.Map.of("images", List.of(pngBase64(TestModels.blob(3))))).json();
        assertThat(Double.parseDouble((String) js("return document.getElementById('ood-verdict').dataset.pValue")))
                .isEqualTo(blobDirect.get("results").get(0).get("p_value").asDouble());
        shot("4b-ood");

        // the traffic panel: the model's drift window (every scored image, this page's included) beside its calibration
        wait.until(d -> js("const v = document.getElementById('drift-verdict'); return v ? v.dataset.inputs : null") != null);
        idle("drift-result");
        JsonNode window = get("/v1/models/tiny/drift").json();
        int shown = Integer.parseInt((String) js("return document.getElementById('drift-verdict').dataset.inputs"));
        assertThat(shown).isPositive().isLessThanOrEqualTo(window.get("inputs").asInt());
        assertThat(driver.findElements(By.cssSelector("#drift-histogram rect.calibration"))).hasSize(24);
        assertThat(driver.findElements(By.cssSelector("#drift-histogram rect.window"))).hasSize(24);
        driver.findElement(By.id("drift-refresh")).click();
        idle("drift-result");
        assertThat(driver.findElement(By.id("drift-verdict")).getText()).containsAnyOf("Like the training data", "Drifted", "so far");
        shot("4c-drift");

        // a colour photo of another size: the page offers to fit it, and says what it did
        Path photo = Files.createTempFile("photo", ".png");
        byte[] colour = new byte[3 * 40 * 56];
        new java.util.Random(5).nextBytes(colour);
        Files.write(photo, dev.glowserve.data.Png.encode(colour, 3, 40, 56));
        js("document.getElementById('score-result').innerHTML = ''");
        driver.findElement(By.id("score-file")).sendKeys(photo.toString());
        wait.until(d -> !d.findElements(By.id("fit-offer")).isEmpty());
        assertThat(driver.findElement(By.id("fit-offer")).getText()).isEqualTo("Fit it to 28×28 grayscale and score");
        driver.findElement(By.id("fit-offer")).click();
        wait.until(d -> !d.findElements(By.id("fitted-note")).isEmpty() && !d.findElements(By.id("bpd-value")).isEmpty());
        idle("score-result");
        assertThat(driver.findElement(By.id("fitted-note")).getText())
                .isEqualTo("Fitted: 56×40 RGB fitted to 28×28 grayscale (luma, scaled to fit, centred on black).");
        shot("4c-fitted");

        // into latent space and back: the same pixels; then towards another class
        driver.findElement(By.id("roundtrip")).click();
        wait.until(d -> !d.findElements(By.id("roundtrip-verdict")).isEmpty());
        idle("latent-result");
        assertThat(driver.findElement(By.id("roundtrip-verdict")).getAttribute("data-identical")).isEqualTo("true");
        assertThat(driver.findElement(By.id("roundtrip-verdict")).getText()).startsWith("Identical, pixel for pixel");
        driver.findElement(By.id("manipulate")).click();
        wait.until(d -> images("manipulation").size() == 4);
        idle("manipulation");
        shot("4d-latent");
        assertThat(get("/favicon.svg").status()).isEqualTo(200);
        assertThat((Object) js("return document.getElementById('temperature').max")).isEqualTo("2");

        // a model without a calibration says so instead of a verdict (for a shipped example: the photo would be fitted)
        new Select(driver.findElement(By.id("score-pick"))).selectByValue("coat");
        wait.until(d -> String.valueOf(js("return document.getElementById('score-preview').src")).endsWith("coat.png"));
        idle("score-result");
        new Select(driver.findElement(By.id("model"))).selectByValue("peer");
        wait.until(d -> images("samples").size() == 16);
        idle("samples");
        js("document.getElementById('score-result').innerHTML = ''");
        driver.findElement(By.id("score")).click();
        wait.until(d -> String.valueOf(js("const v = document.getElementById('ood-verdict'); return v ? v.textContent : ''"))
                .contains("no calibration"));
        new Select(driver.findElement(By.id("model"))).selectByValue("tiny");
        wait.until(d -> images("samples").size() == 16);
        idle("samples");

        // an API error (problem+json) is shown to the user in words
        steps.clear();
        steps.sendKeys("1");
        driver.findElement(By.id("interpolate")).click();
        WebElement error = driver.findElement(By.id("error"));
        wait.until(d -> error.isDisplayed());
        assertThat(error.getText()).contains("steps = 1 is outside 2..64");
        shot("5-error");
        Object focusable = ((JavascriptExecutor) driver).executeScript(
                "return [...document.querySelectorAll('button, select, input, [tabindex]')].every(e => e.tabIndex >= 0)");
        assertThat(focusable).as("every control is reachable by keyboard").isEqualTo(true);
    }
}
