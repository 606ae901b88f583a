# Tunnel establishment and the data sessions (tunnel.c, session.c): plain
# functions over bytes, no sockets.  src/node/CMakeLists.txt includes this
# file and links cy_tunnel into cy_node / cyphonicd.
add_library(cy_tunnel STATIC
  ${CMAKE_CURRENT_LIST_DIR}/tunnel.c
  ${CMAKE_CURRENT_LIST_DIR}/session.c
)
target_include_directories(cy_tunnel PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cy_tunnel PUBLIC cy_common OpenSSL::Crypto)
