package org.cnn4j.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * The handwritten PTX kernels of {@code native-kernels/}, packaged as class-path resources, with
 * the entry points each file defines. The CUDA backend loads every file as a module once.
 */
public final class Kernels {
    /** Resource folder of the PTX files. */
    public static final String RESOURCE_DIR = "/org/cnn4j/backend/cuda/kernels/";

    /** Each file and its entry points (the kernels a backend may launch). */
    public static final Map<String, List<String>> ENTRIES = Map.of(
            "activations.ptx", List.of("activation_forward", "bias_activation", "activation_backward", "activation_backward_planes"),
            "pooling.ptx", List.of("max_pool_forward", "max_pool_backward", "max_pool_backward_cells", "avg_pool_forward", "avg_pool_backward", "spread_cells",
                    "subsample_forward", "subsample_backward_data", "subsample_backward_params", "subsample_params_partial",
                    "subsample_params_finish", "plane_sums_to_bias"),
            "elementwise.ptx", List.of("fill", "multiply", "add", "copy_channels", "pad_planes", "dropout_forward", "argmax", "fill_chunks"),
            "optimizers.ptx", List.of("sgd_step", "adam_step", "sgd_steps"),
            "losses.ptx", List.of("softmax_cross_entropy", "record_step"),
            "normalization.ptx", List.of("batchnorm_training", "batchnorm_inference", "batchnorm_backward"));

    private Kernels() {
    }

    /** The text of one PTX file. */
    public static String source(String file) {
        try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE_DIR + file)) {
            if (in == null) throw new IllegalStateException("PTX resource " + RESOURCE_DIR + file + " is missing from the class path");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read PTX resource " + RESOURCE_DIR + file + ": " + e.getMessage(), e);
        }
    }
}
