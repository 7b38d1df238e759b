package dev.glowserve.api;

/**
 * The OpenAPI document's request examples, which Swagger UI's "Try it out" sends as they are: real inputs for the
 * shipped model (its examples folder's sneaker and ankle boot as base64 PNGs, the prior's mode of class 7 as latents),
 * so that every example answers 200 ({@code OpenApiExamplesTest} sends each one, and checks the PNGs against
 * {@code docs/examples}). Annotations take only constants, hence the literals.
 */
final class ApiExamples {

    private ApiExamples() {}

    /** docs/examples/sneaker.png, base64. */
    static final String SNEAKER = "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABMUlEQVR4XmNgGHGAkQlM2cH43HAZKJi0oXibLJBmYWAoPcUDE2Vi"
            + "BBJKbybXFSzeABaIPXPTBEQzMoBk2OTe1JZ5ZBRX7XtXqqoQffzEKkmYTlvbvYsDgvLq6to7itffvXbq7oH2veoQKRWTqXsdfVLy"
            + "i8sqGzqqohI7Vq/JjLqryKBam55f05gfmlhemp5d1LFgzdY9R3dNzo8rWHXah6Fvz9atmxZPq8vI7lm458zVuw8f3ro46fj/P5cu"
            + "ntNgsKqZuWr7nnXblp+4fP7M3sNTQzN2Ae3hFRfnYRNi4JdmYmLl1Xftc5dkgzhA2kNSXISbR1xVn4FB1tXTxYTDUomBTUpd3cDS"
            + "ykzaMUxdR1PbzEkf4lhdXU9zzwAnW2sDdW1dYx1rTV0rK10VkO9HBAAAqxdjlahYfcEAAAAASUVORK5CYII=";

    /** docs/examples/boot.png, base64. */
    static final String BOOT = "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABWUlEQVR4XmNgGNaAmZGBgZ1BFV2YkYlBOoQbwi5HlQJKMjBE9OeB"
            + "WGKxWeiSLAymjRWT189d1j5rRQ+aHBMDd2dTw4IN85dvmjp9AlyYkYGJkYGZgaG4KKtzxcw5S5f3z50HtZsRTALlIruj4mZObZ6+"
            + "ck3//JUGMJ1MLCAFSR15uXmL2idMnb98wryVYOcyMQF9AARSOaXJ+aUdc9pmzZqzoHfynE1gw0BA1DSmND+9uLGtf9bSVbOmz+rv"
            + "mrZUGygububoE1rWUJ1fWFZf293asaBn9sIJs9cs3GvHwOASF5VflF9UXN/e0V9XD9QzpXbRogldMxcdsWJwW9mYkZQSl5iUlpNV"
            + "XtE4dc7yffuOHDu2++jeHSoMAnWr9+zZsXpme0Vd/aSdhy9e+H9x49c/v39/v3POEOQYHuesJTuPX7p86cK+aUEcQIFNF/asXzRv"
            + "OjQUhgoAAOgDgrHwDQEXAAAAAElFTkSuQmCC";

    static final String MODEL = "fashion-mnist";
    static final String VERSION = "2";

    static final String IMAGES = "{\"images\": [\"" + SNEAKER + "\"]}";
    static final String OOD = "{\"images\": [\"" + SNEAKER + "\"], \"method\": \"complexity\", \"alpha\": 0.05}";
    static final String SAMPLE = "{\"n\": 4, \"temperature\": 0.7, \"seed\": 1, \"class\": 3}";
    static final String INTERPOLATE = "{\"from\": {\"image\": \"" + SNEAKER + "\"}, \"to\": {\"image\": \"" + BOOT
            + "\"}, \"steps\": 8, \"method\": \"slerp\"}";
    static final String MANIPULATE = "{\"image\": \"" + SNEAKER + "\", \"to_class\": 9, \"scales\": [0, 0.5, 1, 1.5]}";

    /** All latents zero: the prior's mode, here of class 7 (Sneaker). */
    static final String DECODE = "{\"items\":[{\"latents\":[{\"shape\":[2,14,14],\"eps\":[[[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,"
            + "0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],["
            + "0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,"
            + "0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,"
            + "0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0,0,0,0,0,0,0,0]"
            + ",[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,"
            + "0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,"
            + "0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0]"
            + ",[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0,0,0]]]},{\"shap"
            + "e\":[8,7,7],\"eps\":[[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],["
            + "0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,"
            + "0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,"
            + "0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,"
            + "0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0],[0,0,0,0,"
            + "0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],[[0,0,0,0,0,"
            + "0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]"
            + "],[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],["
            + "0,0,0,0,0,0,0]],[[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,"
            + "0,0,0,0,0,0],[0,0,0,0,0,0,0]]]}],\"class\":7}]}";

    static final String V2_SAMPLE = "{\"inputs\": [{\"name\": \"TEMPERATURE\", \"datatype\": \"FP32\", \"shape\": [2], "
            + "\"data\": [0.7, 0.7]}, {\"name\": \"SEED\", \"datatype\": \"INT64\", \"shape\": [1], \"data\": [1]}]}";
    static final String V2_INDEX = "{\"ready\": true}";
    static final String V2_LOAD = "{\"parameters\": {\"version\": \"2\"}}";
}
