# The adapter's daemon part (src/adapter/adapter.cmake): the general-node
# table, the nftables script, the status hook.
if(TARGET cy_adapter_core)
  cy_unit_test(test_adapter_gn SOURCES test_adapter_gn.c LIBS cy_adapter_core cy_node)
endif()
