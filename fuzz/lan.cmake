# The adapter's LAN codecs under libFuzzer: frames (classifier, builders,
# MSS clamp, ICMP, GSO), the DHCP and DHCPv6 servers with their lease
# file, and IPv6 Neighbour Discovery.
if(TARGET cy_lan)
  cy_fuzz(fuzz_frame SOURCES fuzz_frame.c LIBS cy_lan cy_proto cy_common)
  cy_fuzz(fuzz_dhcp SOURCES fuzz_dhcp.c LIBS cy_lan cy_proto cy_common)
  cy_fuzz(fuzz_ndp SOURCES fuzz_ndp.c LIBS cy_lan cy_proto cy_common)
  cy_fuzz(fuzz_dhcp6 SOURCES fuzz_dhcp6.c LIBS cy_lan cy_proto cy_common)
endif()
