# The adapter's daemon part (cy_adapter): the general-node table, the LAN
# glue, nftables, routes, and adapter.c, linked into cyphonicd.
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)

add_library(cy_adapter_core STATIC ${CMAKE_CURRENT_LIST_DIR}/gn.c ${CMAKE_CURRENT_LIST_DIR}/nat.c)
target_include_directories(cy_adapter_core PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cy_adapter_core PUBLIC cy_common PkgConfig::NFTABLES)

# The daemon part needs the [adapter] config fields (node_conf.h) and the
# login on a general node's behalf (login.h); until they exist cyphonicd is
# built without the adapter.  Re-checked whenever those headers change.
set(_cy_node_dir ${CMAKE_SOURCE_DIR}/src/node)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${_cy_node_dir}/node_conf.h ${_cy_node_dir}/login.h)
file(READ ${_cy_node_dir}/node_conf.h _cy_nc)
file(READ ${_cy_node_dir}/login.h _cy_lg)
if(_cy_lg MATCHES "login_new_for")
  target_compile_definitions(cy_node PUBLIC CY_HAVE_LOGIN_FOR)
endif()
if(NOT _cy_nc MATCHES "has_adapter")
  message(WARNING "adapter: node_conf.h has no [adapter] fields yet: cyphonicd without the adapter")
  return()
endif()

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

target_link_libraries(cyphonicd PRIVATE cy_adapter)
target_compile_definitions(cyphonicd PRIVATE CY_HAVE_ADAPTER)
