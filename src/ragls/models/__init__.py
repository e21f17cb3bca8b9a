"""Models: ONNX embeddings, local GGUF via llama-cpp-python, remote OpenAI-compatible, FIM templates."""

import os as _os

# llama.cpp's OpenMP threads spin while they wait for each other. On a machine whose cores are
# also busy with an editor, indexing or another model (two cores, here), a spinning thread holds
# the core its partner needs: with two busy loops, the 0.5B model wrote 4.9 tokens/s spinning
# and 23.2 waiting passively; on an idle machine passive waiting costs about 30%
# (bench/model_speed_bench.py, README). Set before llama_cpp loads; a user's own setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
