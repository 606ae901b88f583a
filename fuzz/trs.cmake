# The TRS's parsers under libFuzzer: the control port, a session port
# (hellos and forwarding), the key file parser, and the node's side of
# the Relay Ack (src/node/dataplane/relay.c).
cy_fuzz(fuzz_trs SOURCES fuzz_trs.c ${PROJECT_SOURCE_DIR}/src/node/dataplane/relay.c ${PROJECT_SOURCE_DIR}/src/node/dataplane/tidtab.c LIBS cy_trs cy_proto cy_common)
target_include_directories(fuzz_trs PRIVATE ${PROJECT_SOURCE_DIR}/src/node/dataplane)

# The node's Punch (probes and acks beside a relayed tunnel).
cy_fuzz(fuzz_punch SOURCES fuzz_punch.c ${PROJECT_SOURCE_DIR}/src/node/dataplane/punch.c ${PROJECT_SOURCE_DIR}/src/node/dataplane/tidtab.c LIBS cy_proto cy_common)
target_include_directories(fuzz_punch PRIVATE ${PROJECT_SOURCE_DIR}/src/node/dataplane)
# The access policy's flows on inner packets, and the FLOWS attribute.
cy_fuzz(fuzz_flow SOURCES fuzz_flow.c ${PROJECT_SOURCE_DIR}/src/node/dataplane/flowcheck.c
        ${PROJECT_SOURCE_DIR}/src/node/io/fq.c ${PROJECT_SOURCE_DIR}/src/node/io/codel.c
        LIBS cy_proto cy_common)
target_include_directories(fuzz_flow PRIVATE ${PROJECT_SOURCE_DIR}/src/node/dataplane
        ${PROJECT_SOURCE_DIR}/src/node/io)
