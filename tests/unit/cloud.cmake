# The cloud's protocol handlers (AS, NMS) driven directly over bytes, each
# against a temporary store from cloud_fixture.c (shared with fuzz/cloud.cmake).
cy_unit_test(test_as SOURCES test_as.c cloud_fixture.c LIBS cy_as cy_store cy_proto cy_common)
cy_unit_test(test_as_hs SOURCES test_as_hs.c LIBS cy_as cy_common PkgConfig::LIBEVENT)
cy_unit_test(test_nms SOURCES test_nms.c cloud_fixture.c LIBS cy_nms cy_store cy_proto cy_common)
cy_unit_test(test_nms_route SOURCES test_nms_route.c cloud_fixture.c
  LIBS cy_nms cy_trs cy_store cy_proto cy_common PkgConfig::LIBEVENT)
cy_unit_test(test_cloud_conf SOURCES test_cloud_conf.c LIBS cy_cloud_conf cy_proto cy_common)
# The web console's sessions and cookies, and its accounts in the store.
cy_unit_test(test_console SOURCES test_console.c LIBS cy_console)
