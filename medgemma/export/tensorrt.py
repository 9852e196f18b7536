"""tensorrt.py builds a TensorRT engine from an exported ONNX graph and runs it, on CUDA machines.

Where CUDA or the `tensorrt` package is missing, `check_available` raises FeatureUnavailable naming what
is missing. Engines are specific to the GPU and TensorRT version that built them. It knows nothing about
adapters, model cards or how the ONNX graph was made (input_ids [1, seq] -> logits [1, seq, vocab]).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.errors import FeatureUnavailable, UserFacingError

logger = logging.getLogger(__name__)

ENGINE_FILE = "model.engine"


def missing() -> list[str]:
    """What this machine lacks for TensorRT (empty when it can build engines)."""
    lacks = []
    try:
        import torch

        if not torch.cuda.is_available():
            lacks.append("a CUDA GPU (torch sees none)")
    except ImportError:
        lacks.append("torch")
    if importlib.util.find_spec("tensorrt") is None:
        lacks.append("the `tensorrt` Python package (pip install tensorrt)")
    return lacks


def check_available() -> None:
    lacks = missing()
    if lacks:
        raise FeatureUnavailable(
            "TensorRT export is unavailable on this machine: it needs " + " and ".join(lacks) + ". "
            "Export to ONNX here and build the engine on a CUDA machine, or use GGUF for CPUs."
        )


def build_engine(onnx_path: Path, engine_path: Path, max_length: int = 2048, fp16: bool = True) -> Path:
    """Parse the ONNX graph (external data beside it) and build a serialized engine with one
    optimization profile for input_ids [1, 1..max_length]."""
    check_available()
    import tensorrt as trt

    log = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(log)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # TensorRT < 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserFacingError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    opt = min(256, max_length)
    profile.set_shape("input_ids", (1, 1), (1, opt), (1, max_length))
    config.add_optimization_profile(profile)
    logger.info("building the TensorRT engine (fp16=%s, up to %d tokens)", fp16, max_length)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserFacingError("TensorRT could not build an engine from the ONNX graph (see the log).")
    engine_path.write_bytes(bytes(serialized))
    return engine_path


class EngineRunner:
    """ids -> logits [len(ids), vocab] through a TensorRT engine (torch CUDA tensors as buffers)."""

    def __init__(self, engine_path: Path) -> None:
        check_available()
        import tensorrt as trt
        import torch

        self._torch = torch
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            raise UserFacingError(
                f"TensorRT could not load {Path(engine_path).name} (built for another GPU "
                "or TensorRT version?)."
            )
        self.context = self.engine.create_execution_context()

    def __call__(self, ids: list[int]) -> np.ndarray:
        torch = self._torch
        inp = torch.tensor([ids], dtype=torch.int64, device="cuda")
        self.context.set_input_shape("input_ids", tuple(inp.shape))
        shape = tuple(self.context.get_tensor_shape("logits"))
        out = torch.empty(shape, dtype=torch.float32, device="cuda")
        self.context.set_tensor_address("input_ids", inp.data_ptr())
        self.context.set_tensor_address("logits", out.data_ptr())
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise UserFacingError("TensorRT failed to run the engine.")
        stream.synchronize()
        return out[0].cpu().numpy()


def runner(engine_path: Path) -> Any:
    return EngineRunner(engine_path)
