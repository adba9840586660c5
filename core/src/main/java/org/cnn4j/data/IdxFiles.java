package org.cnn4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

import org.cnn4j.io.FileFormatException;

/**
 * Reads MNIST-format IDX files (MNIST, Fashion-MNIST, EMNIST), raw or gzip-compressed. The header
 * is two zero bytes, a type byte (0x08: unsigned bytes, the only type image datasets use), the
 * number of dimensions, and each dimension as a big-endian int32; the data follow. No buffer is
 * sized by the header until the header has been checked against a stated limit ({@code maxBytes})
 * and against what the file can hold: a raw file's size must match exactly, and a gzip file cannot
 * expand to more than {@value #MAX_GZIP_RATIO} times its own size (deflate's ceiling is about
 * 1032:1), so a small file that claims gigabytes is refused before anything is allocated. The data
 * are then read into that buffer, and must end exactly where the header says.
 */
public final class IdxFiles {
    private static final int UNSIGNED_BYTE = 0x08;
    /** The most a gzip stream can expand: deflate's best ratio is 1032:1. */
    static final int MAX_GZIP_RATIO = 1100;

    private IdxFiles() {
    }

    /** The dimensions and the data of an IDX file of unsigned bytes. */
    public record Contents(int[] dims, byte[] data) {
    }

    /** {@link #read(Path, int, long)} with {@link Datasets#DEFAULT_MAX_BYTES}. */
    public static Contents read(Path file, int expectedRank) throws IOException {
        return read(file, expectedRank, Datasets.DEFAULT_MAX_BYTES);
    }

    /**
     * Reads an IDX file whose data are unsigned bytes and that has {@code expectedRank} dimensions,
     * holding at most {@code maxBytes} bytes of data.
     */
    public static Contents read(Path file, int expectedRank, long maxBytes) throws IOException {
        if (!Files.isRegularFile(file)) throw new FileFormatException(file, "no such file");
        boolean gzip;
        try (InputStream probe = Files.newInputStream(file)) {
            gzip = probe.read() == 0x1f && probe.read() == 0x8b;
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
             InputStream in = gzip ? new GZIPInputStream(raw, 1 << 16) : raw) {
            DataInputStream header = new DataInputStream(in);
            int magic = readInt(file, header, 0, "the magic number");
            int type = (magic >>> 8) & 0xFF, rank = magic & 0xFF;
            if ((magic >>> 16) != 0 || type != UNSIGNED_BYTE || rank != expectedRank) {
                throw new FileFormatException(file, 0, String.format(
                        "magic number 0x%08X is not an IDX file of unsigned bytes with %d dimension%s (expected 0x%08X)",
                        magic, expectedRank, expectedRank == 1 ? "" : "s", (UNSIGNED_BYTE << 8) | expectedRank));
            }
            int[] dims = new int[rank];
            long size = 1;
            for (int d = 0; d < rank; d++) {
                dims[d] = readInt(file, header, 4 + 4L * d, "dimension " + d);
                if (dims[d] < 0) throw new FileFormatException(file, 4 + 4L * d, "dimension " + d + " is negative: " + dims[d]);
                size *= dims[d];
                if (size > Integer.MAX_VALUE - 16) {
                    throw new FileFormatException(file, 4 + 4L * d, "the header claims more than 2 GiB of data");
                }
            }
            long dataStart = 4 + 4L * rank, fileSize = Files.size(file);
            if (size > maxBytes) {
                throw new FileFormatException(file, 4, "the header's dimensions " + dimsText(dims) + " claim " + size
                        + " bytes of data, more than the limit of " + maxBytes + " bytes for a data file (which can be raised: --max-data)");
            }
            if (!gzip && fileSize != dataStart + size) {
                throw new FileFormatException(file, Math.min(fileSize, dataStart + size), "the header's dimensions "
                        + dimsText(dims) + " need " + size + " bytes of data but the file holds " + (fileSize - dataStart)
                        + (fileSize < dataStart + size ? " (truncated?)" : ""));
            }
            if (gzip && dataStart + size > fileSize * MAX_GZIP_RATIO) {
                throw new FileFormatException(file, 4, "the header's dimensions " + dimsText(dims) + " claim " + size
                        + " bytes of data, more than a gzip file of " + fileSize + " bytes can hold");
            }
            byte[] data = new byte[(int) size];
            int got = in.readNBytes(data, 0, data.length);
            if (got < size) {
                throw new FileFormatException(file, dataStart + got, "data end after " + got + " bytes but the header's dimensions "
                        + dimsText(dims) + " need " + size + " (truncated?)");
            }
            if (in.read() != -1) {
                throw new FileFormatException(file, dataStart + size, "more data than the header's dimensions " + dimsText(dims) + " describe");
            }
            return new Contents(dims, data);
        } catch (ZipException | EOFException e) {
            throw new FileFormatException(file, "corrupt or truncated gzip data: " + e.getMessage());
        }
    }

    private static int readInt(Path file, DataInputStream in, long offset, String what) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new FileFormatException(file, offset, "file ends before " + what + " of the IDX header");
        }
    }

    private static String dimsText(int[] dims) {
        StringBuilder sb = new StringBuilder();
        for (int d : dims) sb.append(sb.length() == 0 ? "" : "×").append(d);
        return sb.toString();
    }
}
