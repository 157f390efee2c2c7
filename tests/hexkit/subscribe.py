"""Reads events with GHGA hexkit's own Kafka subscriber and prints each as a JSON line.

usage: subscribe.py SERVERS TOPIC TYPE COUNT GROUP

Exits 0 after COUNT events of TYPE were consumed, 1 after 60 s without them. Events hexkit
ignores (no type, no correlation id) are logged by hexkit on stderr and not counted.
"""

import asyncio
import json
import logging
import sys

from hexkit.correlation import get_correlation_id
from hexkit.protocols.eventsub import EventSubscriberProtocol
from hexkit.providers.akafka import KafkaConfig, KafkaEventSubscriber


class Printer(EventSubscriberProtocol):
    def __init__(self, topic, type_):
        self.topics_of_interest = [topic]
        self.types_of_interest = [type_]
        self.consumed = 0

    async def _consume_validated(self, *, payload, type_, topic, key, event_id):
        line = {
            "payload": payload,
            "type": type_,
            "topic": topic,
            "key": key,
            "event_id": str(event_id),
            "correlation_id": str(get_correlation_id()),
        }
        print(json.dumps(line), flush=True)
        self.consumed += 1


async def main(servers, topic, type_, count, group):
    config = KafkaConfig(
        service_name=group, service_instance_id="1", kafka_servers=servers.split(",")
    )
    printer = Printer(topic, type_)
    async with KafkaEventSubscriber.construct(config=config, translator=printer) as sub:
        while printer.consumed < count:
            await sub.run(forever=False)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    servers, topic, type_, count, group = sys.argv[1:6]
    try:
        asyncio.run(asyncio.wait_for(main(servers, topic, type_, int(count), group), 60))
    except asyncio.TimeoutError:
        sys.exit("hexkit's subscriber did not get its events within 60 s")
