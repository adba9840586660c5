package org.cnn4j.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.LinkOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a file so that a crash at any moment leaves either the old file or the complete new one:
 * write a temporary file beside it, flush it to disk (fsync), rename it over the target (atomic on
 * POSIX file systems), then fsync the directory so the rename itself survives a power cut. On
 * failure the temporary file is removed, the target is untouched, and a failure of the system's
 * (no space left on the device, say) names the file.
 *
 * <p>A process killed while writing leaves its temporary file ({@code .NAME.pidPID.RANDOM.partial})
 * behind; the next write into the same directory removes those whose process is gone (and those
 * of the older unnamed form, {@code .NAME.RANDOM.partial}, once an hour old), so they do not pile up.
 */
public final class AtomicFiles {
    private static final Logger log = LoggerFactory.getLogger(AtomicFiles.class);
    private static final String PARTIAL = ".partial";
    private static final Pattern TEMPORARY = Pattern.compile("\\..+?\\.(?:pid(\\d+)\\.)?-?\\d+\\.partial");
    private static final Duration ORPHAN_AGE = Duration.ofHours(1);

    private AtomicFiles() {
    }

    /** What produces the file's bytes. */
    @FunctionalInterface
    public interface Writer {
        void write(OutputStream out) throws IOException;
    }

    /** What produces the file's contents through its channel (to map it, say), which it must not close. */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    public static void write(Path target, Writer writer) throws IOException {
        writeChannel(target, channel -> {
            OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16);
            writer.write(out);
            out.flush();
        });
    }

    /** {@link #write(Path, Writer)} through a channel opened for reading and writing. */
    public static void writeChannel(Path target, ChannelWriter writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        removeStalePartials(dir);
        Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".pid" + ProcessHandle.current().pid() + ".", PARTIAL);
        try {
            keepPermissions(target, temp);
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(channel);
                channel.force(true);
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot replace " + target + " atomically on this file system: " + e.getMessage(), e);
            }
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            // The system's own failures (no space left, quota, I/O error) come as plain IOExceptions
            // that do not say which file: say it, and what became of the old one.
            if (e.getClass() != IOException.class) throw e;
            throw new IOException("cannot write " + target + ": " + e.getMessage() + " ("
                    + (Files.exists(target) ? "the previous file is unchanged" : "nothing was written") + ")", e);
        } catch (RuntimeException | Error e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        syncDirectory(dir);
    }

    /** Removes temporary files that a killed write left in {@code dir} (see the class comment). */
    static void removeStalePartials(Path dir) {
        try (DirectoryStream<Path> partials = Files.newDirectoryStream(dir, ".*" + PARTIAL)) {
            for (Path p : partials) {
                Matcher m = TEMPORARY.matcher(p.getFileName().toString());
                if (!m.matches() || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) continue;
                boolean stale = m.group(1) != null ? ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()
                        : Files.getLastModifiedTime(p).toInstant().isBefore(Instant.now().minus(ORPHAN_AGE));
                if (stale && Files.deleteIfExists(p)) log.info("removed {}, left by a write that did not finish", p);
            }
        } catch (IOException | NumberFormatException e) {
            log.debug("could not look for stale temporary files in {}: {}", dir, e.toString());
        }
    }

    /** A temporary file is private (rw-------); the file it becomes gets the old file's permissions, or rw-r--r--. */
    private static void keepPermissions(Path target, Path temp) throws IOException {
        if (!Files.getFileStore(temp).supportsFileAttributeView(PosixFileAttributeView.class)) return;
        Set<PosixFilePermission> permissions = Files.exists(target) ? Files.getPosixFilePermissions(target)
                : PosixFilePermissions.fromString("rw-r--r--");
        Files.setPosixFilePermissions(temp, permissions);
    }

    /** Makes a rename in dir durable. Some systems cannot open a directory for this; the rename is still atomic there. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not possible on this platform (e.g. Windows); nothing more can be done.
        }
    }
}
