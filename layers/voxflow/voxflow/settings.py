"""Engine settings: the synthesis core's view of the settings model (voxflow.config)."""

from dataclasses import dataclass, field
from pathlib import Path

from voxflow.config import Config
from voxflow.config import variables as env
from voxflow.config.choices import ConvAlgoSearch, Device, ExecutionMode
from voxflow.errors import SettingsError

__all__ = ["ConvAlgoSearch", "Device", "EngineSettings", "ExecutionMode", "default_cache_dir"]


def default_cache_dir(config: Config) -> Path:
    """VOXFLOW_CACHE_DIR, else XDG's cache, else ~/.cache (Lambda's only writable path is
    /tmp: the template sets VOXFLOW_CACHE_DIR there)."""
    explicit = config[env.CACHE_DIR]
    if explicit is not None:
        return explicit
    return (config[env.XDG_CACHE_HOME] or Path.home() / ".cache") / "voxflow"


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs: device, threads, batching and text limits.

    Sequential execution with onnxruntime's own thread count synthesizes about
    twice as fast as parallel execution on CPU; ``fast_start`` hides its slow
    session build (see voxflow.engine.session). Measured by benchmarks/engine.py.
    """

    device: Device = env.DEVICE.default
    cuda_conv_algo_search: ConvAlgoSearch = env.CUDA_CONV_ALGO_SEARCH.default
    execution_mode: ExecutionMode = env.EXECUTION_MODE.default
    fast_start: bool = env.FAST_START.default
    intra_op_threads: int = env.INTRA_OP_THREADS.default
    inter_op_threads: int = env.INTER_OP_THREADS.default
    # onnxruntime's idle threads spin between operators: a little lower latency when
    # the process has its cores to itself, CPU taken from every other process when
    # it shares them (the local stack runs a dozen processes on a few cores).
    allow_spinning: bool = env.ALLOW_SPINNING.default
    batch_size: int = env.BATCH_SIZE.default
    # Expose the model's per-phoneme durations (speech marks need them); costs about
    # 0.3 s of the voice's load time.
    alignment: bool = env.ALIGNMENT.default
    max_chars: int = env.MAX_CHARS.default
    chunk_max_chars: int = env.CHUNK_MAX_CHARS.default
    voices_file: Path | None = env.VOICES_FILE.default
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(Config.load()))
    # Catalog voices (voxflow.voices.loader): where their files are downloaded (Lambda:
    # under /tmp, its ephemeral storage), and the memory their loaded sessions may hold.
    voice_dir: Path = env.VOICE_DIR.default
    voice_memory_mb: int = env.VOICE_MEMORY_MB.default
    # How long a catalog entry read is reused (voxflow.voices.cached).
    voice_catalog_ttl_s: float = env.VOICE_CATALOG_TTL_S.default

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise SettingsError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.cuda_conv_algo_search not in ("DEFAULT", "HEURISTIC", "EXHAUSTIVE"):
            raise SettingsError(
                "cuda_conv_algo_search must be DEFAULT, HEURISTIC or EXHAUSTIVE, "
                f"not {self.cuda_conv_algo_search!r}"
            )
        if self.execution_mode not in ("sequential", "parallel"):
            raise SettingsError(
                f"execution_mode must be sequential or parallel, not {self.execution_mode!r}"
            )
        for name in ("intra_op_threads", "inter_op_threads"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0 (0 lets onnxruntime choose)")
        if not 1 <= self.batch_size <= 64:
            raise SettingsError(f"batch_size must be in 1..64, not {self.batch_size}")
        if self.max_chars < 1:
            raise SettingsError(f"max_chars must be >= 1, not {self.max_chars}")
        if self.voice_memory_mb < 1:
            raise SettingsError(f"voice_memory_mb must be >= 1, not {self.voice_memory_mb}")
        if not 0 <= self.voice_catalog_ttl_s <= 3600:
            raise SettingsError(
                f"voice_catalog_ttl_s must be in 0..3600, not {self.voice_catalog_ttl_s}"
            )
        if not 20 <= self.chunk_max_chars <= 5_000:
            raise SettingsError(f"chunk_max_chars must be in 20..5000, not {self.chunk_max_chars}")

    @classmethod
    def of(cls, config: Config) -> "EngineSettings":
        return cls(
            device=config[env.DEVICE],
            cuda_conv_algo_search=config[env.CUDA_CONV_ALGO_SEARCH],
            execution_mode=config[env.EXECUTION_MODE],
            fast_start=config[env.FAST_START],
            intra_op_threads=config[env.INTRA_OP_THREADS],
            inter_op_threads=config[env.INTER_OP_THREADS],
            allow_spinning=config[env.ALLOW_SPINNING],
            batch_size=config[env.BATCH_SIZE],
            alignment=config[env.ALIGNMENT],
            max_chars=config[env.MAX_CHARS],
            chunk_max_chars=config[env.CHUNK_MAX_CHARS],
            voices_file=config[env.VOICES_FILE],
            cache_dir=default_cache_dir(config),
            voice_dir=config[env.VOICE_DIR],
            voice_memory_mb=config[env.VOICE_MEMORY_MB],
            voice_catalog_ttl_s=config[env.VOICE_CATALOG_TTL_S],
        )
