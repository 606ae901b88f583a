# The tunnel handshake and data sessions under libFuzzer.
cy_fuzz(fuzz_tunnel SOURCES fuzz_tunnel.c LIBS cy_tunnel cy_proto cy_common)
