"""The `.tflite` file itself, without TensorFlow: reading it with `struct` (`flatbuffer`),
editing its head and metadata through the schema's object API (`model_file`), and TFLite's
standard metadata, written and read back (`standard_metadata`)."""
