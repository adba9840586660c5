package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.cnn4j.cli.Cli.Result;
import org.cnn4j.data.DataInfo;
import org.cnn4j.data.Datasets;
import org.cnn4j.data.SyntheticShapes;
import org.cnn4j.io.ModelFile;
import org.cnn4j.model.Graph;
import org.cnn4j.model.Models;
import org.cnn4j.testing.Backends;
import org.cnn4j.testing.Data;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Options and files as a hostile user would give them to the command line: each refused before any
 * work, in one line on standard error with no stack trace. Runs in the JVM of 256 MiB (tag small-heap).
 */
@Tag("small-heap")
class HostileCommandLineTest {
    @TempDir
    Path dir;

    /** A refusal: the exit code, one line on standard error that holds {@code message}, no stack trace, nothing on standard output. */
    private static void assertRefused(int code, String message, String... args) {
        Result r = Cli.run(args);
        assertEquals(code, r.code(), String.join(" ", args) + ": " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains(message), String.join(" ", args) + ": " + r.err());
        assertFalse(r.err().matches("(?s).*(\\tat |\\[[IJDF]@).*"), r.err());
        assertEquals("", r.out(), String.join(" ", args));
    }

    @Test
    void everyOptionIsCheckedBeforeAnyWork() throws IOException {
        String out = dir.resolve("run").toString();
        assertRefused(2, "cnn4j train: --batch must be between 1 and 65536, got 2147483647",
                "train", "--data", "synthetic", "--batch", "2147483647", "--out", out);
        assertRefused(2, "--limit must be between 0 and 2147483647, got -5", "train", "--data", "synthetic", "--limit", "-5", "--out", out);
        assertRefused(2, "--threads must be between 0 and 1024, got 100000", "train", "--data", "synthetic", "--threads", "100000", "--out", out);
        assertRefused(2, "--threads must be between 0 and 1024, got -1", "train", "--data", "synthetic", "--threads", "-1", "--out", out);
        assertRefused(2, "--lr must be a number in (0, 100], got 1.0E308", "train", "--data", "synthetic", "--lr", "1e308", "--out", out);
        assertRefused(2, "--lr must be a number in (0, 100], got NaN", "train", "--data", "synthetic", "--lr", "NaN", "--out", out);
        assertRefused(2, "--schedule: unknown schedule ':'; use constant, cosine or step:EVERY:GAMMA", "train", "--schedule", ":", "--out", out);
        assertRefused(2, "--schedule: a step schedule needs EVERY >= 1 and a finite GAMMA > 0, got 0 and 0.1", "train", "--schedule", "step:0:0.1");
        assertRefused(2, "--epochs must be between 1 and 1000000, got 0", "train", "--epochs", "0", "--out", out);
        assertRefused(2, "--max-data must be a size such as 512m or 2g, got 'lots'", "train", "--max-data", "lots", "--out", out);
        assertRefused(2, "--device must be auto, cpu or gpu, got 'tpu'", "train", "--device", "tpu", "--out", out);
        assertRefused(2, "cnn4j train: Unknown options: '--bacth', '64' (see 'cnn4j train --help')", "train", "--bacth", "64");
        assertRefused(2, "cnn4j eval: --batch must be between 1 and 65536, got 0", "eval", "model.safetensors", "--batch", "0");
        assertRefused(2, "cnn4j predict: --top must be between 1 and 1000000, got -1", "predict", "model.safetensors", "x.png", "--top", "-1");
        assertRefused(2, "cnn4j gradcheck: --tolerance must be a number in (0, 1], got -1", "gradcheck", "--tolerance", "-1");
        assertRefused(2, "cnn4j bench: --windows must be between 1 and 1000, got 0", "bench", "--windows", "0");
        assertFalse(Files.exists(dir.resolve("run")), "nothing written");

        // --out naming a file, or a place under one, is refused at once, not after an epoch of training.
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertRefused(2, "--out " + file + " is a file, not a directory", "train", "--data", "synthetic", "--out", file.toString());
        assertRefused(2, "--out " + file.resolve("sub") + " is not a directory cnn4j can write into",
                "train", "--data", "synthetic", "--out", file.resolve("sub").toString());
    }

    @Test
    void badFilesOnTheCommandLineEndInOneLine() throws IOException {
        Path cut = dir.resolve("cut.jpg");
        Files.write(cut, Arrays.copyOf(Data.jpeg(64, 64), 900));
        Path model = dir.resolve("model.safetensors");
        try (Graph m = Models.fmnistCnn().build(Backends.CPU)) {
            ModelFile.save(model, m, DataInfo.of(SyntheticShapes.generate(20, 28, 10, 1)));
        }
        assertRefused(1, "cnn4j predict: " + cut + ": truncated or corrupt image", "predict", model.toString(), cut.toString(), "--device", "cpu");
        // a model file that is not there, by every command that reads one
        Path missing = dir.resolve("missing.onnx");
        assertRefused(1, "cnn4j eval: " + missing + ": no such file or directory", "eval", missing.toString(), "--data", "synthetic", "--device", "cpu");
        assertRefused(1, "cnn4j predict: " + missing + ": no such file or directory", "predict", missing.toString(), cut.toString(), "--device", "cpu");
        for (String command : List.of("summary", "export", "train")) {
            String[] args = command.equals("summary") ? new String[] {command, missing.toString()}
                    : command.equals("export") ? new String[] {command, missing.toString(), "--onnx", dir.resolve("out.onnx").toString()}
                    : new String[] {command, "--model", missing.toString(), "--data", "synthetic", "--out", dir.resolve("run").toString()};
            assertRefused(1, "cnn4j " + command + ": " + missing + ": no such model file", args);
        }

        // A folder of one image a class has nothing to hold out: refused before any training.
        Path singles = dir.resolve("singles");
        for (String c : List.of("a", "b")) {
            Files.createDirectories(singles.resolve(c));
            javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(20, 20, java.awt.image.BufferedImage.TYPE_INT_RGB), "png",
                    singles.resolve(c).resolve("1.png").toFile());
        }
        Result lone = Cli.run("train", "--model", "resnet20", "--data", singles.toString(), "--epochs", "1", "--device", "cpu",
                "--out", dir.resolve("singles-run").toString());
        assertEquals(1, lone.code(), lone.err());
        assertTrue(lone.err().strip().lines().toList().getLast().equals("cnn4j train: " + singles + ": no class has the 2 images that "
                + "holding out a share of it (--val-fraction 0.1) needs, so there is nothing to validate on; add images, or split the folder "
                + "into train/ and val/"), lone.err());
        assertEquals("", lone.out(), "no training started");

        // What a model file says of its training data is checked as a setting of the file.
        Path lying = dir.resolve("lying.safetensors");
        try (Graph m = Models.fmnistCnn().build(Backends.CPU)) {
            ModelFile.save(lying, m, DataInfo.of(SyntheticShapes.generate(20, 28, 10, 1)), java.util.Map.of("cnn4j.cli.data", "{\"data\": 5}"),
                    java.util.Map.of());
        }
        assertRefused(1, "cnn4j eval: " + lying + ": metadata cnn4j.cli.data: setting 'data' must be a string, got 5",
                "eval", lying.toString(), "--device", "cpu");

        // A model trained on the generated shapes evaluated on digits (same image size, other classes).
        Path digits = Files.createDirectories(dir.resolve("digits"));
        for (String set : List.of("train", "t10k")) {
            Files.write(digits.resolve(set + "-images-idx3-ubyte"), ByteBuffer.allocate(16 + 2 * 784).put(Data.idxHeader(2, 28, 28)).array());
            Files.write(digits.resolve(set + "-labels-idx1-ubyte"), ByteBuffer.allocate(8 + 2).put(Data.idxHeader(2)).array());
        }
        assertRefused(1, "was trained on images of shape (1, 28, 28) in the classes " + SyntheticShapes.CLASS_NAMES
                        + " but digits-test has images of shape (1, 28, 28) in the classes " + Datasets.DIGIT_CLASSES,
                "eval", model.toString(), "--data", digits.toString(), "--device", "cpu");
    }
}
