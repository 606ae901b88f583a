# Unit tests of src/common: every parser fed hostile input.
cy_unit_test(test_buf SOURCES test_buf.c LIBS cy_proto cy_common)
cy_unit_test(test_wire SOURCES test_wire.c LIBS cy_proto cy_common)
cy_unit_test(test_seal SOURCES test_seal.c LIBS cy_proto cy_common)
cy_unit_test(test_replay SOURCES test_replay.c LIBS cy_proto cy_common)
cy_unit_test(test_conf SOURCES test_conf.c heapscan.c LIBS cy_proto cy_common)
cy_unit_test(test_addr SOURCES test_addr.c LIBS cy_proto cy_common)
cy_unit_test(test_json SOURCES test_json.c LIBS cy_proto cy_common)
cy_unit_test(test_control SOURCES test_control.c LIBS cy_proto cy_common Threads::Threads)
