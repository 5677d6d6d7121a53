"""Server-side runtime: build the model repository, run Triton, and the ONNX Runtime stand-in."""
