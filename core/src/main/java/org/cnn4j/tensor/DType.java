package org.cnn4j.tensor;

/** Element types. Activations and parameters are FLOAT32 (FLOAT64 on the reference backend); masks and labels are INT32. */
public enum DType {
    FLOAT32(4), FLOAT64(8), INT32(4);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean isFloatingPoint() {
        return this != INT32;
    }
}
