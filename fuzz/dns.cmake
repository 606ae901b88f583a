# The DNS codec and the node's resolver module under libFuzzer.
cy_fuzz(fuzz_dns SOURCES fuzz_dns.c LIBS cy_resolver cy_proto cy_common)
