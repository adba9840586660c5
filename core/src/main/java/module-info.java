/**
 * cnn4j's library: tensors on the CPU, float64 reference and CUDA backends, layers, models and
 * their training, model files (safetensors) and ONNX files, datasets, and {@link
 * org.cnn4j.model.Classifier} for programs that only predict. The command line, its charts,
 * progress bars and logging backend are the separate application artifact ({@code cnn4j-app}).
 *
 * <p>Exported are the packages a program uses; the benchmark harnesses ({@code org.cnn4j.bench})
 * are the application's. JCuda is read only by the CUDA backend, and its native library is loaded
 * only when that backend starts. The TwelveMonkeys JPEG reader (CMYK and YCCK JPEGs) is found
 * through ImageIO's service registry, so it is required here without being named in the code.
 */
module org.cnn4j {
    requires transitive java.desktop;   // BufferedImage in Classifier's and Images' signatures
    requires jdk.incubator.vector;      // the CPU kernels (the scalar ones serve where it is absent at run time)
    requires jdk.management;            // HotSpot's flags, which tell whether the Vector API is compiled to vector instructions
    requires org.slf4j;
    requires com.google.gson;
    requires org.apache.commons.csv;
    requires jcuda;
    requires com.twelvemonkeys.imageio.jpeg;
    requires org.tribuo.util.onnx;
    requires com.google.protobuf;

    exports org.cnn4j.backend;
    exports org.cnn4j.backend.cpu;
    exports org.cnn4j.backend.cuda;
    exports org.cnn4j.backend.reference;
    exports org.cnn4j.data;
    exports org.cnn4j.distributed;
    exports org.cnn4j.io;
    exports org.cnn4j.layer;
    exports org.cnn4j.loss;
    exports org.cnn4j.model;
    exports org.cnn4j.onnx;
    exports org.cnn4j.optim;
    exports org.cnn4j.tensor;
    exports org.cnn4j.train;
}
