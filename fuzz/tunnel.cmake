# The tunnel handshake and data sessions under libFuzzer.
if(TARGET cy_tunnel)
  cy_fuzz(fuzz_tunnel SOURCES fuzz_tunnel.c LIBS cy_tunnel cy_common)
else()
  cy_fuzz(fuzz_tunnel SOURCES fuzz_tunnel.c ${PROJECT_SOURCE_DIR}/src/node/tunnel.c
          ${PROJECT_SOURCE_DIR}/src/node/session.c LIBS cy_common OpenSSL::Crypto)
  target_include_directories(fuzz_tunnel PRIVATE ${PROJECT_SOURCE_DIR}/src/node)
endif()
