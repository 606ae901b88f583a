# The TRS's parsers under libFuzzer: the control port, a session port
# (hellos and forwarding) and the key file parser.
cy_fuzz(fuzz_trs SOURCES fuzz_trs.c LIBS cy_trs cy_common)
