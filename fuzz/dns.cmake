# The DNS codec and the node's resolver module under libFuzzer.
include(${PROJECT_SOURCE_DIR}/src/node/resolver.cmake)
cy_fuzz(fuzz_dns SOURCES fuzz_dns.c LIBS cy_resolver cy_common)
