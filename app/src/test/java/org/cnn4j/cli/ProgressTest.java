package org.cnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.cnn4j.train.EpochMetrics;
import org.cnn4j.train.TrainingListener;
import org.junit.jupiter.api.Test;

/** The progress display: a bar on a terminal, a line at the first step and every tenth of an epoch otherwise, one result line per epoch. */
class ProgressTest {
    private static String[] drive(boolean terminal, int batches) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        Progress p = new Progress(terminal, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        p.epochStarted(1, 3, batches);
        for (int b = 0; b < batches; b++) p.stepDone(new TrainingListener.Step(1, b, batches, b + 1, 0.5, 0.75, 0.625, 1234.0));
        p.epochDone(new EpochMetrics(1, 0.05, 0.625, 0.8, 0.5, 0.85, 2.5, 1234.0, 0.031), null, null);
        return new String[] {out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void plainLinesAtTheFirstStepAndEveryTenthOfAnEpoch() {
        String[] r = drive(false, 50);
        String[] lines = r[1].strip().split("\n");
        assertEquals(11, lines.length, r[1]);
        assertTrue(lines[0].startsWith("epoch 1/3  step 1/50  loss 0.6250, 1,234 img/s  ETA "), lines[0]);
        assertTrue(lines[1].startsWith("epoch 1/3  step 5/50 "), lines[1]);
        assertTrue(lines[10].startsWith("epoch 1/3  step 50/50"), lines[10]);
        assertEquals("epoch 1/3  train loss 0.6250  accuracy 80.00%  |  test loss 0.5000  accuracy 85.00%  |  2.5 s, 1,234 images/s, lr 0.05000, waited 0.03 s for data",
                r[0].strip());
    }

    @Test
    void aBarOnATerminal() {
        String[] r = drive(true, 20);
        assertTrue(r[1].contains("epoch 1/3") && r[1].contains("20/20 steps") && r[1].contains("loss 0.6250, 1,234 img/s"), r[1]);
        assertTrue(r[0].startsWith("epoch 1/3  train loss 0.6250"), r[0]);
    }

    @Test
    void durations() {
        assertEquals("0m07s", Progress.duration(7.4));
        assertEquals("2m05s", Progress.duration(125));
        assertEquals("1h01m", Progress.duration(3660));
    }
}
