# The adapter's daemon part (cy_adapter): the general-node table, the LAN
# glue, nftables, routes, and adapter.c; src/daemon composes it with the node.
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)

add_library(cy_adapter_core STATIC ${CMAKE_CURRENT_LIST_DIR}/gn.c ${CMAKE_CURRENT_LIST_DIR}/nat.c)
target_include_directories(cy_adapter_core PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cy_adapter_core PUBLIC cy_common PkgConfig::NFTABLES)

add_library(cy_adapter STATIC
  ${CMAKE_CURRENT_LIST_DIR}/adapter.c
  ${CMAKE_CURRENT_LIST_DIR}/dnstcp.c
  ${CMAKE_CURRENT_LIST_DIR}/lansock.c
  ${CMAKE_CURRENT_LIST_DIR}/route.c
)
target_include_directories(cy_adapter PUBLIC ${CMAKE_CURRENT_LIST_DIR})
# lansock.c is glue over the LAN codecs (cy_lan) and the data plane's
# coalescing writer (cy_node: batch.h).
target_link_libraries(cy_adapter PUBLIC cy_adapter_core cy_lan cy_node)

