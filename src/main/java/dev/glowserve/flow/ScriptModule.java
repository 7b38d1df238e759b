package dev.glowserve.flow;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript module compiled by libtorch from TorchScript source, with no Python involved: the
 * source goes into the archive that {@code torch.jit.load} reads (a zip with {@code code/}, the
 * pickled module object, an empty constants table and a format version). The module holds no
 * tensors; weights are passed to its methods as arguments.
 */
final class ScriptModule {

    /** Serialization format version of the archive (PyTorch 1.13+ writes 10, 2.7 reads it). */
    private static final String FORMAT_VERSION = "10";

    private ScriptModule() {}

    /** The text of {@code resource}, TorchScript source next to this class. */
    static String source(String resource) {
        try (InputStream in = ScriptModule.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static PtSymbolBlock compile(NDManager manager, String className, String source) {
        try {
            byte[] archive = archive(className, source);
            return JniUtils.loadModule((PtNDManager) manager, new ByteArrayInputStream(archive), false, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] archive(String className, String source) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            String root = className.toLowerCase(java.util.Locale.ROOT) + "/";
            store(zip, root + "data.pkl", moduleObject(className));
            store(zip, root + "code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
            store(zip, root + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            store(zip, root + "version", (FORMAT_VERSION + "\n").getBytes(StandardCharsets.US_ASCII));
        }
        return bytes.toByteArray();
    }

    /** libtorch's reader wants entries stored, not deflated. */
    private static void store(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /**
     * Pickle (protocol 2) of an instance of {@code __torch__.<className>} whose only attribute is
     * {@code training = False}: GLOBAL, EMPTY_TUPLE, NEWOBJ, then its attribute dict and BUILD.
     */
    private static byte[] moduleObject(String className) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(0x80);
        o.write(2);
        o.writeBytes(("c__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII));
        o.write(')');
        o.write(0x81);
        o.write('}');
        o.write('(');
        byte[] name = "training".getBytes(StandardCharsets.US_ASCII);
        o.write('X');
        o.writeBytes(new byte[] {(byte) name.length, 0, 0, 0});
        o.writeBytes(name);
        o.write(0x89);
        o.write('u');
        o.write('b');
        o.write('.');
        return o.toByteArray();
    }
}
