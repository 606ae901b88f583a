# The Tunnel Relay Service (src/cloud/trs/) driven over bytes: the control port
# (Relay Requests), the session ports (hellos, forwarding, hostile input),
# expiry; and the node's hellos (src/node/dataplane/relay.c) and its punching
# beside the relay (src/node/dataplane/punch.c).
cy_unit_test(test_trs SOURCES test_trs.c heapscan.c LIBS cy_trs cy_proto cy_common)
cy_unit_test(test_node_relay SOURCES test_node_relay.c LIBS cy_node)
cy_unit_test(test_node_punch SOURCES test_node_punch.c LIBS cy_node)
