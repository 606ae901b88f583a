# The DNS codec (src/common/dns.c) and the node's resolver module
# (src/node/resolver).
cy_unit_test(test_dns SOURCES test_dns.c LIBS cy_proto cy_common)
cy_unit_test(test_resolver SOURCES test_resolver.c LIBS cy_resolver cy_proto cy_common)
