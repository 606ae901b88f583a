# The node's resolver module (DNS server for NAME.<domain>, forwarder for
# the rest, resolv.conf install/restore), a library of its own so unit
# tests and the fuzzer link it without the rest of the daemon.
# src/node/CMakeLists.txt includes this file and links cy_resolver into
# cy_node; tests/unit/dns.cmake includes it when the node part does not.
if(NOT TARGET cy_resolver)
  add_library(cy_resolver STATIC
    ${CMAKE_CURRENT_LIST_DIR}/resolver.c
    ${CMAKE_CURRENT_LIST_DIR}/resolver_server.c
    ${CMAKE_CURRENT_LIST_DIR}/resolv_conf.c
  )
  target_include_directories(cy_resolver PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(cy_resolver PUBLIC cy_common PkgConfig::LIBEVENT)
endif()
