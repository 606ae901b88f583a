# The DNS codec (src/common/dns.c) and the node's resolver module.
include(${PROJECT_SOURCE_DIR}/src/node/resolver.cmake)
cy_unit_test(test_dns SOURCES test_dns.c LIBS cy_common)
cy_unit_test(test_resolver SOURCES test_resolver.c LIBS cy_resolver cy_common)
