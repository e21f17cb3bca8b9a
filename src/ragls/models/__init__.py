"""Models: ONNX embeddings, local GGUF via llama-cpp-python, remote OpenAI-compatible, FIM templates."""

import os as _os

# llama.cpp's OpenMP threads spin while they wait for each other. On a machine whose cores are
# also busy with an editor, indexing or another model (two cores, here), a spinning thread holds
# the core its partner needs: measured here under load, reading prompts was 5x and writing 7x
# slower than with passive waiting (bench/model_speed_bench.py). Set before llama_cpp loads;
# a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
