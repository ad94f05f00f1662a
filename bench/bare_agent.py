"""A bare Faust agent that decodes each report and forwards it: bench/detection.py's baseline.

The same Faust version, broker settings, producer linger and partitions as the fundwatch
worker, and nothing else, so the ratio of the two shows what fundwatch's own work costs.
Started by the bench as ``python bench/bare_agent.py worker``; it reads
FUNDWATCH_BOOTSTRAP_SERVERS and FUNDWATCH_TOPIC_PREFIX like the worker. BARE_AGENT_NAME
names the run; BARE_AGENT_WORKER the worker class: Faust's own by default, or fundwatch's
(``streams.worker:Worker``, which puts the root logger back at its level after start-up)
for a baseline without the debug records Faust's own worker leaves enabled.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import faust
import orjson
from faust import StreamT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for streams.*

from streams.settings import Settings

PREFIX = os.environ["FUNDWATCH_TOPIC_PREFIX"]
# Each run its own consumer group and output topic, so that a second run reads the backlog anew.
NAME = os.environ.get("BARE_AGENT_NAME", "bare")
OUTPUT_TOPIC = f"{PREFIX}.{NAME}-forwarded"

app = faust.App(
    f"{PREFIX}-{NAME}",
    broker=f"kafka://{os.environ['FUNDWATCH_BOOTSTRAP_SERVERS']}",
    store="memory://",
    producer_linger=Settings.from_env().linger_ms / 1000,  # the worker's
    broker_commit_interval=1.0,
    web_enabled=False,
    autodiscover=False,
    Worker=os.environ.get("BARE_AGENT_WORKER", "faust.worker:Worker"),
)
reports = app.topic(
    f"{PREFIX}.reports",
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    internal=True,
)
forwarded = app.topic(
    OUTPUT_TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


@app.agent(reports)
async def forward(stream: StreamT[bytes]) -> AsyncIterator[None]:
    async for event in stream.events():
        orjson.loads(event.value)
        await forwarded.send(key=event.key, value=event.value)
        yield None


if __name__ == "__main__":
    app.main()
