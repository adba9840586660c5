package org.cnn4j.backend.cpu;

/** Per-thread work buffers that grow to the largest size asked for and are then reused, so steps do not allocate. */
final class Scratch {
    private final ThreadLocal<float[]> buffer = ThreadLocal.withInitial(() -> new float[0]);
    private final ThreadLocal<double[]> doubles = ThreadLocal.withInitial(() -> new double[0]);

    /** A buffer of at least {@code size} floats; its contents are whatever the last user left. */
    float[] get(int size) {
        float[] b = buffer.get();
        if (b.length < size) {
            b = new float[size];
            buffer.set(b);
        }
        return b;
    }

    /** A buffer of at least {@code size} doubles, kept apart from the float one. */
    double[] doubles(int size) {
        double[] b = doubles.get();
        if (b.length < size) {
            b = new double[size];
            doubles.set(b);
        }
        return b;
    }
}
