# The node daemon's modules (src/node).
cy_unit_test(test_node_sig SOURCES test_node_sig.c LIBS cy_node)
cy_unit_test(test_node_login SOURCES test_node_login.c LIBS cy_node)
cy_unit_test(test_node_route SOURCES test_node_route.c LIBS cy_node)
cy_unit_test(test_node_peer SOURCES test_node_peer.c LIBS cy_node)
# Batched data-plane I/O (src/node/dataplane/batch.c): planner, GRO split, TUN segments, loopback sockets.
cy_unit_test(test_dp_batch SOURCES test_dp_batch.c LIBS cy_node)
cy_unit_test(test_fq SOURCES test_fq.c LIBS cy_node)
# rtnetlink notifications that may mean a move (src/node/io/netwatch.c).
cy_unit_test(test_netwatch SOURCES test_netwatch.c LIBS cy_node)
# The access policy's flows on inner packets (flowcheck.c, flows.c).
cy_unit_test(test_flowcheck SOURCES test_flowcheck.c LIBS cy_node)
