# Unit tests of src/store (and the scrypt password hashes it keeps).
cy_unit_test(test_store SOURCES test_store.c LIBS cy_store PkgConfig::SQLITE PkgConfig::PQ)
target_include_directories(test_store PRIVATE ${PROJECT_SOURCE_DIR}/src/store)
cy_unit_test(test_pwhash SOURCES test_pwhash.c LIBS cy_proto cy_common)

# The same suite against PostgreSQL: a private server for the run
# (tests/pg.sh: its data and socket in /tmp, no TCP port), one schema per
# test.  pg_start and pg_stop are the fixture's setup and cleanup.
string(MD5 cy_pg_tag "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${cy_pg_tag}" 0 8 cy_pg_tag)
set(cy_pg_dir /tmp/cy-pg-${cy_pg_tag})
add_test(NAME pg_start COMMAND ${PROJECT_SOURCE_DIR}/tests/pg.sh start ${cy_pg_dir})
add_test(NAME pg_stop COMMAND ${PROJECT_SOURCE_DIR}/tests/pg.sh stop ${cy_pg_dir})
set_tests_properties(pg_start PROPERTIES FIXTURES_SETUP pg LABELS unit TIMEOUT 120)
set_tests_properties(pg_stop PROPERTIES FIXTURES_CLEANUP pg LABELS unit TIMEOUT 120)
add_test(NAME test_store_pg COMMAND test_store)
set_tests_properties(test_store_pg PROPERTIES FIXTURES_REQUIRED pg LABELS unit TIMEOUT 120
  ENVIRONMENT "CYPHONIC_TEST_PG=postgresql:///postgres?host=${cy_pg_dir}")
