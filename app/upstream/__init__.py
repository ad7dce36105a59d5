"""The one way to the upstreams: dispatcher, endpoints, payloads, retry policy, replicas,
breakers, admission, open streams and the in-process backend adapter."""
