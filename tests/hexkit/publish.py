"""Publishes events with GHGA hexkit's own Kafka publisher, one per JSON line on stdin:
{"topic", "type", "key", "payload", "event_id", "correlation_id", "headers"}.

usage: publish.py SERVERS < events.jsonl
"""

import asyncio
import json
import sys
from uuid import UUID

from hexkit.correlation import set_correlation_id
from hexkit.providers.akafka import KafkaConfig, KafkaEventPublisher


async def main(servers):
    config = KafkaConfig(
        service_name="hexkit-publisher",
        service_instance_id="1",
        kafka_servers=servers.split(","),
        generate_correlation_id=False,
    )
    async with KafkaEventPublisher.construct(config=config) as publisher:
        for line in sys.stdin:
            event = json.loads(line)
            async with set_correlation_id(UUID(event["correlation_id"])):
                await publisher.publish(
                    payload=event["payload"],
                    type_=event["type"],
                    key=event["key"],
                    topic=event["topic"],
                    event_id=UUID(event["event_id"]),
                    headers=event.get("headers", {}),
                )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
