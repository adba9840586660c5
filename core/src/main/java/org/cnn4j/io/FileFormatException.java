package org.cnn4j.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not what it claims to be: wrong magic number, truncated, sizes that disagree with
 * its header, values out of range. The message names the file, the byte offset where the problem
 * was found (when there is one) and what was expected against what was found.
 */
public class FileFormatException extends IOException {
    private final Path file;
    private final long offset;

    public FileFormatException(Path file, long offset, String problem) {
        super(file + (offset >= 0 ? " (at byte " + offset + ")" : "") + ": " + problem);
        this.file = file;
        this.offset = offset;
    }

    public FileFormatException(Path file, String problem) {
        this(file, -1, problem);
    }

    public Path file() {
        return file;
    }

    /** Byte offset of the problem, or −1 when it concerns the file as a whole. */
    public long offset() {
        return offset;
    }
}
