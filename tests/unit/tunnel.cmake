# Tunnel handshake and data sessions (src/node/dataplane: cy_tunnel).
cy_unit_test(test_session SOURCES test_session.c LIBS cy_tunnel)
cy_unit_test(test_tunnel SOURCES test_tunnel.c LIBS cy_tunnel)
