"""Stream processing between LocalAI and the client: reasoning split, guards, validators, templates.

`build_chain(config, request)` gives a `Chain` (or None for a plain relay); `Chain.run` maps parsed
upstream chunks to the chunks to send. Non-streaming helpers: `split_reasoning_message`,
`check_output`, `apply_system_template`.
"""

from app.pipeline.chain import Chain, build_chain
from app.pipeline.config import RepetitionGuardConfig, StreamConfig
from app.pipeline.message import split_reasoning_message
from app.pipeline.options import RequestOptionError, RequestOptions
from app.pipeline.stage import InterruptStream, Stage
from app.pipeline.template import apply_system_template
from app.pipeline.validators import check_output

__all__ = [
    "Chain",
    "InterruptStream",
    "RepetitionGuardConfig",
    "RequestOptionError",
    "RequestOptions",
    "Stage",
    "StreamConfig",
    "apply_system_template",
    "build_chain",
    "check_output",
    "split_reasoning_message",
]
