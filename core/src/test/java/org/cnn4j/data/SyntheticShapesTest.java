package org.cnn4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnn4j.tensor.Shape;
import org.junit.jupiter.api.Test;

/** The generated dataset: shapes, labels, and colour images as weighted copies of the grey one. */
class SyntheticShapesTest {
    @Test
    void colourImagesAreWeightedCopiesOfTheGreyShape() {
        Dataset grey = SyntheticShapes.generate(3, 1, 20, 10, 5), colour = SyntheticShapes.generate(3, 3, 20, 10, 5);
        assertEquals(Shape.of(3, 20, 20), colour.sampleShape());
        assertEquals(grey.label(0), colour.label(0), "the first image is drawn before any colour is chosen");
        byte[] g = grey.pixels(), c = colour.pixels();
        int brightest = 0;
        for (int p = 0; p < 400; p++) if ((g[p] & 0xFF) > (g[brightest] & 0xFF)) brightest = p;
        for (int ch = 0; ch < 3; ch++) {
            double weight = (double) (c[ch * 400 + brightest] & 0xFF) / (g[brightest] & 0xFF);
            assertTrue(weight > 0.39 && weight <= 1.0, "channel weight " + weight);
            for (int p = 0; p < 400; p++) {
                assertEquals(weight * (g[p] & 0xFF), c[ch * 400 + p] & 0xFF, 2.0, "channel " + ch + " pixel " + p);
            }
        }
    }

    @Test
    void labelsCoverTheClassesAndBadRequestsAreRefused() {
        Dataset d = SyntheticShapes.generate(500, 16, 10, 1);
        int[] counts = new int[10];
        for (int label : d.labels()) counts[label]++;
        for (int k = 0; k < 10; k++) assertTrue(counts[k] > 25, "class " + k + ": " + counts[k]);
        assertEquals(SyntheticShapes.CLASS_NAMES, d.classNames());
        assertThrows(IllegalArgumentException.class, () -> SyntheticShapes.generate(5, 16, 11, 1));
        assertThrows(IllegalArgumentException.class, () -> SyntheticShapes.generate(5, 4, 3, 1));
    }
}
