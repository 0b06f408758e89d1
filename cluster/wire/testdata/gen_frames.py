# Writes msgpack frames as Locust 2.12.1 packs them (msgpack.dumps of the
# tuple (type, data, node_id)), used as test fixtures and fuzz seeds.
# Run with Debian's python3 (python3-msgpack): python3 gen_frames.py
import msgpack

node = "worker-host_0123456789abcdef0123456789abcdef"
frames = {
    "client_ready_empty": ("client_ready", "", node),
    "client_ready_minus1": ("client_ready", -1, node),
    "ack": ("ack", {"index": 0}, node),
    "heartbeat": ("heartbeat", {"state": "running", "current_cpu_usage": 12.5, "current_memory_usage": 51234816}, node),
    "spawn": ("spawn", {"timestamp": 1795637470.709625, "user_classes_count": {"WebUser": 3, "APIUser": 0},
                        "host": "http://127.0.0.1:8089", "stop_timeout": 2.5,
                        "parsed_options": {"tags": ["a", "b"], "exclude_tags": None, "num_users": 3, "run_time": 15}}, node),
    "stats": ("stats", {
        "stats": [{"name": "/ok", "method": "GET", "last_request_timestamp": 1795637472.714326,
                   "start_time": 1795637470.709625, "num_requests": 56, "num_none_requests": 0, "num_failures": 0,
                   "total_response_time": 501952.8000000001, "max_response_time": 58760, "min_response_time": 7.4,
                   "total_content_length": 560,
                   "response_times": {7: 8, 140: 8, 150.0: 8, 160: 8, 3400: 8, 59000: 8, 100: 8},
                   "num_reqs_per_sec": {1795637470: 14, 1795637471: 21, 1795637472: 21}, "num_fail_per_sec": {}}],
        "stats_total": {"name": "Aggregated", "method": None, "last_request_timestamp": None, "start_time": 1795637470.7,
                        "num_requests": 0, "num_none_requests": 0, "num_failures": 0, "total_response_time": 0,
                        "max_response_time": 0, "min_response_time": None, "total_content_length": 0,
                        "response_times": {}, "num_reqs_per_sec": {}, "num_fail_per_sec": {}},
        "errors": {"ab12": {"name": "/x", "method": "GET", "error": "ValueError('boom')", "occurrences": 2}},
        "user_classes_count": {"WebUser": 3}, "user_count": 3}, node),
    "exception": ("exception", {"msg": "boom", "traceback": "Traceback...\n  File x\nValueError: boom"}, node),
    "quit": ("quit", None, node),
    "big_uint": ("x", {"n": 2**64 - 1, "m": -2**63, "b": b"\x00\xff", "t": True}, node),
}
for name, f in frames.items():
    with open(name + ".msgpack", "wb") as fh:
        fh.write(msgpack.dumps(f))
