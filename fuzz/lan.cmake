# The adapter's LAN codecs under libFuzzer: frames (classifier, builders,
# MSS clamp, ICMP, GSO) and the DHCP server with its lease file.
if(TARGET cy_lan)
  cy_fuzz(fuzz_frame SOURCES fuzz_frame.c LIBS cy_lan cy_proto cy_common)
  cy_fuzz(fuzz_dhcp SOURCES fuzz_dhcp.c LIBS cy_lan cy_proto cy_common)
endif()
