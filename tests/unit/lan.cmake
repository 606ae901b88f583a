# The adapter's LAN codecs (src/adapter/lan: frame, dhcp, lease) and
# the GSO/checksum module (src/common/gso.c), fed hostile input.
cy_unit_test(test_gso SOURCES test_gso.c LIBS cy_proto cy_common)
if(TARGET cy_lan)
  cy_unit_test(test_frame SOURCES test_frame.c LIBS cy_lan)
  cy_unit_test(test_dhcp SOURCES test_dhcp.c LIBS cy_lan)
  cy_unit_test(test_ndp SOURCES test_ndp.c LIBS cy_lan)
  cy_unit_test(test_dhcp6 SOURCES test_dhcp6.c LIBS cy_lan)
  cy_unit_test(test_lease SOURCES test_lease.c LIBS cy_lan)
endif()
