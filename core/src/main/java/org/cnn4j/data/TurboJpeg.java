package org.cnn4j.data;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.cnn4j.io.FileFormatException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JPEG decoding with libjpeg-turbo's TurboJPEG API ({@code libturbojpeg.so.0}, Debian's
 * {@code libturbojpeg0}), the library Pillow decodes with: SIMD, and scaled in the inverse DCT
 * (by 1/8 to 7/8, the smallest scaling that keeps both sides at least twice the size wanted) so
 * that a large photograph read for a small input is not decoded in full (Pillow's {@code draft}
 * does the same, down to the size wanted); the antialiased resize that follows does the rest.
 * Unscaled, the pixels are Pillow's exactly (same library, same accurate DCT and upsampling). Optional: without
 * the library (or with {@code -Dcnn4j.turbojpeg=off}) {@link #available()} is false and images go
 * to ImageIO. CMYK and YCCK JPEGs are left to ImageIO too.
 *
 * <p>The C functions (TurboJPEG 2.x, {@code turbojpeg.h}): {@code tjhandle tjInitDecompress(void)};
 * {@code int tjDecompressHeader3(tjhandle, const unsigned char *, unsigned long, int *, int *, int *,
 * int *)}; {@code int tjDecompress2(tjhandle, const unsigned char *, unsigned long, unsigned char *,
 * int width, int pitch, int height, int pixelFormat, int flags)}; {@code int tjDestroy(tjhandle)};
 * {@code char *tjGetErrorStr2(tjhandle)}; {@code int tjGetErrorCode(tjhandle)}. Every call checks its
 * result; a corrupt or truncated file is an error the library returns (it never exits the
 * process), named with the file.
 */
final class TurboJpeg {
    private static final Logger log = LoggerFactory.getLogger(TurboJpeg.class);
    private static final int TJPF_RGB = 0, TJPF_GRAY = 6;
    private static final int TJCS_RGB = 0, TJCS_YCBCR = 1, TJCS_GRAY = 2;
    private static final int TJERR_WARNING = 0;
    /** Stop at the first warning (a truncated file), and refuse progressive files of more than 500 scans (a decoding-time bomb). */
    private static final int FLAGS = 8192 /* TJFLAG_STOPONWARNING */ | 32768 /* TJFLAG_LIMITSCANS */;
    /** The DCT scalings below 1 that libjpeg-turbo offers, num/8, smallest first. */
    private static final int[] EIGHTHS = {1, 2, 3, 4, 5, 6, 7};

    private static final Functions FUNCTIONS = load();

    private TurboJpeg() {
    }

    private record Functions(MethodHandle init, MethodHandle header, MethodHandle decompress, MethodHandle destroy, MethodHandle errorText,
                             MethodHandle errorCode) {
    }

    private static Functions load() {
        if ("off".equals(System.getProperty("cnn4j.turbojpeg"))) return null;
        List<String> tried = new ArrayList<>();
        for (String name : List.of("libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "turbojpeg.dll")) {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(name, Arena.global());
                Linker linker = Linker.nativeLinker();
                ValueLayout p = ValueLayout.ADDRESS, i = ValueLayout.JAVA_INT, ul = ValueLayout.JAVA_LONG;
                Functions f = new Functions(
                        linker.downcallHandle(lib.find("tjInitDecompress").orElseThrow(), FunctionDescriptor.of(p)),
                        linker.downcallHandle(lib.find("tjDecompressHeader3").orElseThrow(), FunctionDescriptor.of(i, p, p, ul, p, p, p, p)),
                        linker.downcallHandle(lib.find("tjDecompress2").orElseThrow(), FunctionDescriptor.of(i, p, p, ul, p, i, i, i, i, i)),
                        linker.downcallHandle(lib.find("tjDestroy").orElseThrow(), FunctionDescriptor.of(i, p)),
                        linker.downcallHandle(lib.find("tjGetErrorStr2").orElseThrow(), FunctionDescriptor.of(p, p)),
                        linker.downcallHandle(lib.find("tjGetErrorCode").orElseThrow(), FunctionDescriptor.of(i, p)));
                log.debug("JPEG images are decoded with {}", name);
                return f;
            } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
                tried.add(name + ": " + e.getMessage());
            }
        }
        log.debug("no TurboJPEG library ({}); JPEG images are decoded with ImageIO", tried);
        return null;
    }

    /** Whether libturbojpeg was found and loaded. */
    static boolean available() {
        return FUNCTIONS != null;
    }

    /**
     * The JPEG {@code bytes} (of {@code file}) decoded to RGB or grey, at the smallest DCT scaling
     * that leaves the sides at least twice {@code width} and {@code height} (or in full); null
     * when it is a CMYK or YCCK JPEG. Its header's size is checked against {@code maxPixels} first.
     */
    static BufferedImage decode(Path file, byte[] bytes, int width, int height, long maxPixels) throws FileFormatException {
        Functions f = FUNCTIONS;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handle = (MemorySegment) f.init.invokeExact();
            if (handle.equals(MemorySegment.NULL)) throw new FileFormatException(file, "TurboJPEG could not start a decompressor");
            try {
                MemorySegment jpeg = arena.allocate(bytes.length);
                MemorySegment.copy(bytes, 0, jpeg, ValueLayout.JAVA_BYTE, 0, bytes.length);
                MemorySegment dims = arena.allocate(ValueLayout.JAVA_INT, 4);
                int rc = (int) f.header.invokeExact(handle, jpeg, (long) bytes.length, dims, dims.asSlice(4), dims.asSlice(8), dims.asSlice(12));
                if (rc != 0) throw failure(f, handle, file);
                long w = dims.getAtIndex(ValueLayout.JAVA_INT, 0), h = dims.getAtIndex(ValueLayout.JAVA_INT, 1);
                int colours = dims.getAtIndex(ValueLayout.JAVA_INT, 3);
                if (w < 1 || h < 1) throw new FileFormatException(file, "the header claims an image of " + w + "×" + h + " pixels");
                if (w * h > maxPixels) {
                    throw new FileFormatException(file, "the header claims " + w + "×" + h + " = " + w * h
                            + " pixels, more than the limit of " + maxPixels + " (which can be raised: --max-pixels)");
                }
                if (colours != TJCS_RGB && colours != TJCS_YCBCR && colours != TJCS_GRAY) return null;
                int eighths = 8;
                for (int e : EIGHTHS) {
                    if (scaled(w, e) >= 2L * width && scaled(h, e) >= 2L * height) {
                        eighths = e;
                        break;
                    }
                }
                int sw = (int) scaled(w, eighths), sh = (int) scaled(h, eighths);
                boolean grey = colours == TJCS_GRAY;
                int channels = grey ? 1 : 3;
                MemorySegment out = arena.allocate((long) sw * sh * channels);
                rc = (int) f.decompress.invokeExact(handle, jpeg, (long) bytes.length, out, sw, sw * channels, sh, grey ? TJPF_GRAY : TJPF_RGB, FLAGS);
                if (rc != 0) throw failure(f, handle, file);
                byte[] pixels = out.toArray(ValueLayout.JAVA_BYTE);
                return image(pixels, sw, sh, channels);
            } finally {
                int ignored = (int) f.destroy.invokeExact(handle);
            }
        } catch (FileFormatException e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("calling TurboJPEG failed: " + e, e);
        }
    }

    /** TurboJPEG's TJSCALED: a side scaled by eighths/8, rounded up. */
    private static long scaled(long side, int eighths) {
        return (side * eighths + 7) / 8;
    }

    private static FileFormatException failure(Functions f, MemorySegment handle, Path file) throws Throwable {
        MemorySegment text = (MemorySegment) f.errorText.invokeExact(handle);
        int code = (int) f.errorCode.invokeExact(handle);
        String message = text.equals(MemorySegment.NULL) ? "unknown error" : text.reinterpret(4096).getString(0);
        return new FileFormatException(file, (code == TJERR_WARNING ? "truncated or corrupt image: " : "cannot decode the image: ") + message);
    }

    /** Interleaved 8-bit RGB or grey pixels as an image whose raster {@link ImageFolder} reads directly. */
    private static BufferedImage image(byte[] pixels, int w, int h, int channels) {
        if (channels == 1) {
            BufferedImage grey = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
            grey.getRaster().setDataElements(0, 0, w, h, pixels);
            return grey;
        }
        DataBufferByte buffer = new DataBufferByte(pixels, pixels.length);
        var raster = Raster.createWritableRaster(new PixelInterleavedSampleModel(DataBuffer.TYPE_BYTE, w, h, 3, 3 * w, new int[] {0, 1, 2}), buffer, null);
        var model = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false, Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
        return new BufferedImage(model, raster, false, null);
    }
}
