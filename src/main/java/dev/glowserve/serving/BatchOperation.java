package dev.glowserve.serving;

import dev.glowserve.runtime.ModelRunner;

import java.util.List;

/**
 * A batched operation, typed by what a request hands in (an image, a latent) and what it gets back: jobs of one
 * operation batch together, and the operation's runner call does the batch. Sampling and interpolation are decodes
 * of latents made per request.
 */
final class BatchOperation<I, O> {
    static final BatchOperation<byte[], ModelRunner.Encoded> ENCODE = new BatchOperation<>("encode", "forward", ModelRunner::encode);
    static final BatchOperation<float[][], byte[]> DECODE = new BatchOperation<>("decode", "reverse", ModelRunner::decode);
    static final BatchOperation<float[][], byte[]> DECODE_Z = new BatchOperation<>("decode_z", "reverse",
            (runner, z, labels) -> runner.decodeZ(z));
    static final List<BatchOperation<?, ?>> ALL = List.of(ENCODE, DECODE, DECODE_Z);

    /** The runner call for a whole batch: one result per item, in order. */
    private interface Call<I, O> {
        List<O> run(ModelRunner runner, List<I> items, int[] labels);
    }

    final String tag;
    final String pass;
    private final Call<I, O> call;

    private BatchOperation(String tag, String pass, Call<I, O> call) {
        this.tag = tag;
        this.pass = pass;
        this.call = call;
    }

    /** The batch's results, one per item, in order. */
    List<O> run(ModelRunner runner, List<I> items, int[] labels) {
        return call.run(runner, items, labels);
    }

    /** {@code job} as one of this operation's: checked by identity, so its items are I and its results O. */
    @SuppressWarnings("unchecked")
    BatchJob<I, O> own(BatchJob<?, ?> job) {
        if (job.op != this) {
            throw new IllegalArgumentException(job.op.tag + " job in a " + tag + " batch");
        }
        return (BatchJob<I, O>) job;
    }
}
