"""kafka-python end-to-end driver for the kafkawire tests.

usage: kafka_python_client.py BOOTSTRAP USER PASSWORD MECHANISM MODE TOPIC [N]
modes: produce (20 records per codec), consume (N records, in a group),
       times (offsets_for_times), auth (metadata only), sizes (the value
       sizes of the first N records, without a group), from (the offsets and
       values of partition 0 from offset N to the end).
"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

bootstrap, user, password, mech, mode, topic = sys.argv[1:7]
common = dict(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT",
              sasl_mechanism=mech, sasl_plain_username=user, sasl_plain_password=password)

if mode == "auth":
    admin = KafkaAdminClient(**common)
    print("topics", sorted(admin.list_topics()))
    admin.close()
elif mode == "produce":
    for codec in (None, "gzip", "snappy", "lz4", "zstd"):
        p = KafkaProducer(compression_type=codec, acks="all", **common)
        for i in range(20):
            p.send(topic, key=("py-%s" % codec).encode(), value=("%s-%d" % (codec, i)).encode(),
                   headers=[("codec", str(codec).encode())])
        p.flush()
        p.close()
    print("produced")
elif mode == "consume":
    want = int(sys.argv[7])
    c = KafkaConsumer(topic, group_id="pygroup", auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=20000, **common)
    n = 0
    for msg in c:
        n += 1
        if n == want:
            break
    c.commit()
    c.close()
    print("consumed", n)
elif mode == "times":
    c = KafkaConsumer(**common)
    tp = TopicPartition(topic, 0)
    got = c.offsets_for_times({tp: int(sys.argv[7])})
    print("offset", got[tp].offset if got[tp] else -1)
    c.close()
elif mode == "sizes":
    want = int(sys.argv[7])
    c = KafkaConsumer(topic, auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=20000, **common)
    sizes = []
    for msg in c:
        sizes.append(len(msg.value))
        if len(sizes) == want:
            break
    c.close()
    print("sizes", " ".join(str(n) for n in sizes))
elif mode == "from":
    c = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=5000, **common)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek(tp, int(sys.argv[7]))
    end = c.end_offsets([tp])[tp]
    got = []
    for msg in c:
        got.append("%d:%s" % (msg.offset, msg.value.decode()))
        if msg.offset == end - 1:
            break
    c.close()
    print("from", " ".join(got))
