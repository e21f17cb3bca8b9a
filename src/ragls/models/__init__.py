"""Models: ONNX embeddings, local GGUF via llama-cpp-python, remote OpenAI-compatible, FIM templates."""
