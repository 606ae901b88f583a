# Tunnel handshake and data sessions (src/node/tunnel.c, session.c).
# Linked through cy_tunnel when src/node includes tunnel.cmake; until then
# the two sources are compiled into the tests directly.
if(TARGET cy_tunnel)
  set(CY_TUNNEL_SRCS)
  set(CY_TUNNEL_LIBS cy_tunnel)
else()
  set(CY_TUNNEL_SRCS ${PROJECT_SOURCE_DIR}/src/node/tunnel.c
                     ${PROJECT_SOURCE_DIR}/src/node/session.c)
  set(CY_TUNNEL_LIBS cy_common OpenSSL::Crypto)
endif()

cy_unit_test(test_session SOURCES test_session.c ${CY_TUNNEL_SRCS} LIBS ${CY_TUNNEL_LIBS})
cy_unit_test(test_tunnel SOURCES test_tunnel.c ${CY_TUNNEL_SRCS} LIBS ${CY_TUNNEL_LIBS})
target_include_directories(test_session PRIVATE ${PROJECT_SOURCE_DIR}/src/node)
target_include_directories(test_tunnel PRIVATE ${PROJECT_SOURCE_DIR}/src/node)
