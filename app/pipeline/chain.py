"""The per-request stream chain: build it from a model's config, run upstream chunks through it."""

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from app.pipeline.config import StreamConfig
from app.pipeline.guard import GuardStage
from app.pipeline.options import RequestOptions
from app.pipeline.split_stage import ReasoningStage
from app.pipeline.stage import Chunk, InterruptStream, Stage, finish_chunk
from app.pipeline.validators import BannedPhraseStage

logger = logging.getLogger(__name__)


class Chain:
    """Stages applied in order to one response's chunks; single use.

    Stages rewrite the chunk dicts in place (pass freshly parsed chunks, not shared ones).
    After `run` ends, `interruption` holds the `InterruptStream` that ended it early (or None).
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self.interruption: InterruptStream | None = None

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        """Yield the chunks to send. Closing it early is safe; the caller closes `chunks`."""
        generators: list[AsyncGenerator[Chunk, None]] = []
        source = chunks
        for stage in self.stages:
            source = stage.run(source)
            generators.append(source)
        try:
            async for chunk in source:
                yield chunk
        except InterruptStream as interrupt:
            self.interruption = interrupt
            logger.warning(
                "stream interrupted: model=%s finish_reason=%s (%s)",
                interrupt.chunk.get("model"),
                interrupt.reason,
                interrupt.detail,
            )
            yield finish_chunk(interrupt.chunk, interrupt.reason)
        finally:
            for generator in reversed(generators):
                await generator.aclose()


def build_chain(config: StreamConfig | None, options: RequestOptions) -> Chain | None:
    """The chain for one request, or None when the model configures no stage (relay as is)."""
    if config is None:
        return None
    stages: list[Stage] = []
    if config.repetition_guard is not None or config.max_output_chars is not None:
        stages.append(GuardStage(config))
    if config.reasoning != "none" or not options.include_reasoning:
        stages.append(ReasoningStage(config, options.include_reasoning))
    if config.banned_phrases:
        stages.append(BannedPhraseStage(config))
    return Chain(stages) if stages else None
