# The adapter's LAN codecs (cy_lan): Ethernet frame classification and
# builders, the DHCPv4 server core and the lease table, as plain functions
# over bytes (tests/unit/lan.cmake, fuzz/lan.cmake drive them).
add_library(cy_lan STATIC
  ${CMAKE_CURRENT_LIST_DIR}/frame.c
  ${CMAKE_CURRENT_LIST_DIR}/dhcp.c
  ${CMAKE_CURRENT_LIST_DIR}/lease.c
)
target_include_directories(cy_lan PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cy_lan PUBLIC cy_common)
